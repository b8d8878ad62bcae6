/** Cookie names, as JupyterHub names them (clients and reverse proxies know them). */
export const LOGIN_COOKIE = 'jupyterhub-hub-login';
export const SESSION_ID_COOKIE = 'jupyterhub-session-id';
export const XSRF_COOKIE = '_xsrf';
