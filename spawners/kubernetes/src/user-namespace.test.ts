import t from 'tap';
import { templateNames } from './names.js';
import { buildNamespace, HUB_NAMESPACE_LABEL, namespacePerServer, userNamespaceName } from './user-namespace.js';

t.test('userNamespaceName: {hubnamespace}-{username} by default, always a valid namespace name', async (t) => {
  t.equal(userNamespaceName({}, 'jhub', 'alice', ''), 'jhub-alice');
  t.equal(userNamespaceName({}, 'jhub', 'alice', 'gpu'), 'jhub-alice', 'one namespace per user, whatever the server');
  t.match(userNamespaceName({}, 'jhub', 'Ada@uni.edu', ''), /^jhub-ada-uni-edu---[0-9a-f]{8}$/, 'an email is escaped as in pod names (safe slug)');
  t.equal(userNamespaceName({ user_namespace_template: 'course-{username}--{servername}' }, 'jhub', 'bob', ''), 'course-bob', 'trailing dashes of an empty server name are dropped');
  const long = userNamespaceName({}, 'a-rather-long-hub-namespace-name', 'x'.repeat(60), '');
  t.ok(long.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(long), `long names are cut to a DNS label (${long})`);
  t.not(userNamespaceName({}, 'jhub', 'Alice', ''), userNamespaceName({}, 'jhub', 'alice', ''), 'names differing in case get different namespaces');
});

t.test('namespacePerServer: only a template naming the server gives a named server its own namespace', async (t) => {
  t.equal(namespacePerServer({}, 'jhub', 'alice', 'gpu'), false);
  t.equal(namespacePerServer({ user_namespace_template: '{hubnamespace}-{user_server}' }, 'jhub', 'alice', 'gpu'), true);
  t.equal(namespacePerServer({ user_namespace_template: '{hubnamespace}-{user_server}' }, 'jhub', 'alice', ''), false, 'the default server is never "per server"');
});

t.test('buildNamespace: templated labels and annotations; the hub\'s own labels win', async (t) => {
  const names = templateNames('Ada@uni.edu', '', 'jhub-ada', 'jhub');
  const ns = buildNamespace({ user_namespace_labels: { owner: '{username}', [HUB_NAMESPACE_LABEL]: 'someone-else' }, user_namespace_annotations: { who: '{unescaped_username} in {namespace}' } }, 'jhub-ada', names);
  t.equal(ns.metadata?.name, 'jhub-ada');
  t.equal(ns.metadata?.labels?.owner, names.username, 'label values are templated');
  t.equal(ns.metadata?.labels?.[HUB_NAMESPACE_LABEL], 'jhub', 'a template cannot disown the namespace');
  t.equal(ns.metadata?.annotations?.who, 'Ada@uni.edu in jhub-ada', 'annotations keep the raw name; {namespace} is the user\'s');
  t.match(ns.metadata?.labels, { app: 'jupyterhub', heritage: 'jupyterhub', 'hub.jupyter.org/username': names.username });
});
