// GraphQL-over-HTTP conformance: runs graphql-http's server audits against GRAPHQL_URL and
// fails (exit 1) if any MUST fails. SHOULD/MAY results are printed for information.
import { serverAudits } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
if (!url) {
  console.error('set GRAPHQL_URL, e.g. http://127.0.0.1:8080/graphql');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  results.push(await audit.fn());
}
let failedMust = 0;
for (const r of results) {
  const line = `${r.status.padEnd(7)} ${r.id} ${r.name}`;
  if (r.status !== 'ok') {
    console.log(`${line}\n        ${r.reason}`);
    if (r.name.startsWith('MUST')) failedMust += 1;
  } else {
    console.log(line);
  }
}
const ok = results.filter((r) => r.status === 'ok').length;
console.log(`\n${ok}/${results.length} audits ok; ${failedMust} MUST failed`);
process.exit(failedMust === 0 ? 0 : 1);
