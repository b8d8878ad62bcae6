/**
 * The most common passwords of public breach corpora (the head of the well-known top-10k lists), for
 * `check_common_password`. Only entries that could pass a minimum length of 6 or more matter; the
 * short ones are refused by the length rule anyway. Compared case-insensitively.
 */
const COMMON = `
123456 123456789 12345678 1234567890 1234567 password password1 password12 password123 qwerty qwerty123
qwertyuiop 111111 123123 abc123 abcd1234 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx 000000 654321 666666
121212 112233 123321 987654321 11111111 88888888 87654321 12341234 iloveyou princess sunshine
football baseball basketball dragon monkey letmein welcome welcome1 welcome123 admin admin123
administrator passw0rd p@ssword p@ssw0rd master shadow superman batman trustno1 michael jennifer
jordan23 hunter2 starwars whatever freedom charlie computer internet access qazwsx 1qazxsw2
asdfghjkl asdfgh asdf1234 zxcvbnm zxcvbnm1 secret secret123 changeme changeme1 default login
hello123 lovely loveme mustang harley ranger buster soccer hockey killer pepper ginger summer
summer2024 summer2025 winter2024 spring2025 autumn2025 jupyter jupyter123 jupyterhub student
student123 teacher teacher123 school school123 university password! test1234 testtest
temp1234 guest123 azerty azerty123 1234qwer qwer1234 q1w2e3r4 q1w2e3r4t5 a1b2c3d4 aa123456
`;

export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(COMMON.split(/\s+/).filter((word) => word !== ''));

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.toLowerCase());
}
