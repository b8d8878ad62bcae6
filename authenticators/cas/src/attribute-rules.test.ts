import t from 'tap';
import { describeUnmet, groupsFrom, meetsAll, meetsAny } from './attribute-rules.js';

const student = { affiliation: ['member', 'student'], memberOf: ['cn=course-101', 'cn=course-102', ' ', 'cn=course-101'] };

t.test('meetsAll: every listed attribute needs one of its values', async (t) => {
  t.equal(meetsAll(student, {}), true, 'no rule, no requirement');
  t.equal(meetsAll(student, { affiliation: ['student'] }), true);
  t.equal(meetsAll(student, { affiliation: ['staff', 'student'] }), true, 'values are alternatives');
  t.equal(meetsAll(student, { affiliation: ['staff'] }), false);
  t.equal(meetsAll(student, { affiliation: ['student'], memberOf: ['cn=course-101'] }), true);
  t.equal(meetsAll(student, { affiliation: ['student'], memberOf: ['cn=course-999'] }), false, 'attributes are all required');
  t.equal(meetsAll(student, { eduPersonAffiliation: ['student'] }), false, 'an attribute not released fails');
  t.equal(meetsAll(student, { affiliation: ['Student'] }), false, 'values compare exactly');
});

t.test('meetsAny: one matching attribute is enough', async (t) => {
  t.equal(meetsAny(student, {}), false);
  t.equal(meetsAny(student, { memberOf: ['cn=admins'], affiliation: ['student'] }), true);
  t.equal(meetsAny(student, { memberOf: ['cn=admins'] }), false);
});

t.test('describeUnmet names what is missing for the log', async (t) => {
  t.equal(describeUnmet(student, { affiliation: ['staff'], memberOf: ['cn=course-101'] }), 'affiliation (has: member, student; needs one of: staff)');
  t.equal(describeUnmet({}, { affiliation: ['student'] }), 'affiliation (has: nothing; needs one of: student)');
});

t.test('groupsFrom: distinct, trimmed, non-empty values', async (t) => {
  t.same(groupsFrom(student, 'memberOf'), ['cn=course-101', 'cn=course-102']);
  t.same(groupsFrom(student, 'missing'), []);
});
