import t from 'tap';
import { checkProfileOption, normalizeProfiles, profileForm } from './profiles.js';

const profiles = normalizeProfiles([
  { display_name: 'Small (1 CPU)', description: 'For <most> work' },
  { display_name: 'Large', slug: 'large', default: true },
  { display_name: 'GPU', slug: 'gpu', allowed_groups: ['ml', 'staff'] },
]);
const student = { groups: ['cs101'] };
const ml = { groups: ['ml'] };

t.test('slugs and the form', async (t) => {
  t.same(profiles.map((p) => p.slug), ['small-1-cpu', 'large', 'gpu'], 'slugs derived from display names when absent');
  const form = profileForm(profiles, student)!;
  t.match(form, /value="small-1-cpu"/);
  t.match(form, /value="large" checked/, 'the default profile is pre-selected');
  t.notMatch(form, /gpu/, 'a group-limited profile is hidden from others');
  t.match(form, /For &lt;most&gt; work/, 'descriptions are escaped');
  t.match(profileForm(profiles, ml)!, /value="gpu"/, 'and shown to its group');
  t.equal(profileForm(normalizeProfiles([{ display_name: 'Only' }]), student), null, 'a single profile needs no form');
  t.equal(profileForm([], student), null, 'nor do none');
  t.throws(() => normalizeProfiles([{ display_name: 'A', slug: 'x' }, { display_name: 'B', slug: 'x' }]), /slug 'x' is used by two profiles/);
});

t.test('checkProfileOption', async (t) => {
  t.same(checkProfileOption(profiles, {}, student), { profile: 'large' }, 'no choice: the default');
  t.same(checkProfileOption(profiles, { profile: ['small-1-cpu'], other: 'kept' }, student), { profile: 'small-1-cpu', other: 'kept' }, 'form list values are unwrapped');
  t.throws(() => checkProfileOption(profiles, { profile: 'gpu' }, student), { status: 403, message: "The profile 'gpu' is not available to you." });
  t.same(checkProfileOption(profiles, { profile: 'gpu' }, ml), { profile: 'gpu' });
  t.throws(() => checkProfileOption(profiles, { profile: 'nope' }, student), { status: 400, message: "Unknown profile 'nope'. Choose one of: small-1-cpu, large." });
  t.throws(() => checkProfileOption(profiles, { profile: 3 }, student), { status: 400, message: /must be the slug of a profile/ });
  const onlyGroup = normalizeProfiles([{ display_name: 'GPU', allowed_groups: ['ml'] }]);
  t.throws(() => checkProfileOption(onlyGroup, {}, student), { status: 403, message: /Ask an instructor to add you to the right group/ }, 'no profile visible at all: 403 with a hint');
  t.same(checkProfileOption([], { anything: 'x' }, student), { anything: 'x' }, 'without profiles options pass through');
});
