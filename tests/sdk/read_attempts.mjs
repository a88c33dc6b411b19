// Reads a claim's attempts through BitBadges' official JS SDK (bitbadgesjs-sdk), the way a
// real client would, and prints the SDK's parsed answer as JSON (or the error it rejected
// with). Usage: node read_attempts.mjs <apiUrl> <apiKey> <claimId> <address>
import { BitBadgesAPI } from 'bitbadgesjs-sdk';

const [apiUrl, apiKey, claimId, address] = process.argv.slice(2);
const api = new BitBadgesAPI({ apiUrl, apiKey, convertFunction: (value) => BigInt(value) });
const asJson = (value) =>
  JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `${item}n` : item));

console.error = () => {}; // the SDK logs every rejection; the answer below says it all
try {
  const answer = await api.getClaimAttempts(claimId, { address });
  process.stdout.write(asJson({ ok: true, answer }));
} catch (error) {
  process.stdout.write(asJson({ ok: false, error }));
}
