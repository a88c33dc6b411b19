// Calls BitBadges' official JS SDK (bitbadgesjs-sdk, unchanged from npm) on the Sign In
// with BitBadges routes, as a site's server would, and prints each parsed answer as JSON
// (or the error the SDK rejected with). One Node.js process for a whole sequence: a
// payload's string "$<n>.<field>" is that field of step n's answer.
// Usage: node siwbb_exchange.mjs <apiUrl> <apiKey or ""> '[{"call": "exchange"|"revoke", "payload": {...}}, ...]'
import { BitBadgesAPI } from 'bitbadgesjs-sdk';

const [apiUrl, apiKey, stepsJson] = process.argv.slice(2);
const api = new BitBadgesAPI({ apiUrl, apiKey: apiKey || undefined, convertFunction: (value) => BigInt(value) });
const plain = (value) =>
  JSON.parse(JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `${item}n` : item)));

console.error = () => {}; // the SDK logs every rejection; the answers below say it all
const results = [];
const resolve = (payload) =>
  Object.fromEntries(
    Object.entries(payload).map(([key, value]) => {
      const match = typeof value === 'string' && /^\$(\d+)\.(\w+)$/.exec(value);
      return [key, match ? results[Number(match[1])].answer?.[match[2]] : value];
    })
  );
for (const step of JSON.parse(stepsJson)) {
  try {
    const payload = resolve(step.payload);
    const answer =
      step.call === 'revoke'
        ? await api.revokeOauthAuthorization(payload)
        : await api.exchangeSIWBBAuthorizationCode(payload);
    results.push({ ok: true, class: answer.constructor.name, answer: plain(answer) });
  } catch (error) {
    const shown = error instanceof Error ? { message: error.message } : error;
    results.push({ ok: false, error: plain(shown) });
  }
}
process.stdout.write(JSON.stringify(results));
