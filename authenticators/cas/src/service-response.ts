import { XMLParser } from 'fast-xml-parser';

/** Released attributes: every attribute may carry several values (affiliation: [student, member]). */
export type CasAttributes = Record<string, string[]>;

/** What a `<cas:serviceResponse>` says, as a tagged union. */
export type ServiceResponse =
  | { ok: true; user: string; attributes: CasAttributes }
  | { ok: false; code: string; message: string };

/** A parsed element: child elements by local name (always lists), `#text`, and `@_name` attributes. */
type XmlNode = { [key: string]: XmlNode[] | string | undefined };

const parser = new XMLParser({
  // CAS servers all use the `cas:` prefix for http://www.yale.edu/tp/cas, but nothing requires that
  // prefix, so match on local names.
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Values stay strings: a student number "00123" must not become 123.
  parseTagValue: false,
  parseAttributeValue: false,
  alwaysCreateTextNode: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  trimValues: true,
});

/** Elements of authenticationSuccess that are protocol, not attributes (for servers that inline attributes). */
const PROTOCOL_ELEMENTS = new Set(['user', 'attributes', 'proxyGrantingTicket', 'proxies', '#text']);

const children = (node: XmlNode | undefined, name: string): XmlNode[] => {
  const value = node?.[name];
  return Array.isArray(value) ? value : [];
};
const text = (node: XmlNode | undefined): string => (typeof node?.['#text'] === 'string' ? node['#text'] : '');
const attr = (node: XmlNode | undefined, name: string): string | undefined => {
  const value = node?.[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
};

function addValue(into: CasAttributes, name: string, value: string): void {
  (into[name] ??= []).push(value);
}

/**
 * Collects attributes in the three shapes CAS servers send: CAS 3.0's `<cas:attributes><cas:name>v`,
 * the older name/value form `<cas:attribute name="n" value="v"/>`, and attributes inlined directly in
 * `<cas:authenticationSuccess>` (RubyCAS and other 2.0-era servers).
 */
function collectAttributes(success: XmlNode): CasAttributes {
  const out: CasAttributes = {};
  const fromElement = (parent: XmlNode) => {
    for (const [name, value] of Object.entries(parent)) {
      if (PROTOCOL_ELEMENTS.has(name) || name.startsWith('@_') || !Array.isArray(value)) continue;
      for (const item of value) {
        const named = name === 'attribute' ? attr(item, 'name') : undefined;
        if (named !== undefined) addValue(out, named, attr(item, 'value') ?? text(item));
        else addValue(out, name, text(item));
      }
    }
  };
  for (const block of children(success, 'attributes')) fromElement(block);
  fromElement(success);
  return out;
}

/**
 * Parses the body of /serviceValidate or /p3/serviceValidate. Throws an Error when the body is not a
 * CAS service response at all (an HTML error page, a proxy's login page, truncated XML).
 */
export function parseServiceResponse(body: string): ServiceResponse {
  if (body.trim() === '') throw new Error('the response is empty');
  // A CAS response never declares a DTD; refusing one rules out entity-expansion tricks outright.
  if (/<!DOCTYPE/i.test(body)) throw new Error('the response declares a DTD, which a CAS response never does');
  let doc: XmlNode;
  try {
    doc = parser.parse(body, true) as XmlNode;
  } catch (err) {
    throw new Error(`the response is not well-formed XML (${(err as Error).message.split('\n')[0]})`);
  }
  const response = children(doc, 'serviceResponse')[0];
  if (!response) throw new Error('the response has no <cas:serviceResponse> element');
  const failure = children(response, 'authenticationFailure')[0];
  if (failure) {
    return { ok: false, code: attr(failure, 'code') ?? 'UNKNOWN', message: text(failure).replace(/\s+/g, ' ') };
  }
  const success = children(response, 'authenticationSuccess')[0];
  if (!success) throw new Error('the response has neither <cas:authenticationSuccess> nor <cas:authenticationFailure>');
  const user = text(children(success, 'user')[0]);
  if (user === '') throw new Error('the success response names no <cas:user>');
  return { ok: true, user, attributes: collectAttributes(success) };
}
