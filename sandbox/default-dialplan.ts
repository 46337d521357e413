/**
 * The `default` dialplan every new tenant gets (`patchbay tenant add`, POST /api/v1/tenants), so
 * two accounts made on a fresh tenant can call each other before anyone writes a dialplan. New
 * accounts use it for outgoing calls unless they are given another one.
 */
export const DEFAULT_DIALPLAN_NAME = 'default';

export const DEFAULT_DIALPLAN_SOURCE = `// The default dialplan of this tenant, made when the tenant was created: edit it freely.
// Your phones run it when they place a call (new accounts use it for outgoing calls unless
// they are given another dialplan).
//
// What it does: a number that is one of your accounts rings that account's phones
// (1002 -> 1002@local); anything else is answered 404 Not Found.

const dialled = req.uri.user ?? '';

// To reach numbers outside the switch, add a provider (the Providers page, or
// \`patchbay provider add <domain> mytrunk --server sip:sip.carrier.example ...\`)
// and route to it here, before the local dial. For example, numbers starting with 0:
//
//   if (/^0[0-9]{6,}$/.test(dialled)) {
//     await sys.Dial(\`\${dialled}@mytrunk\`, { ringTimeout: 60 });
//     return;
//   }

// Only plain numbers and names: characters such as & | [ would change the dial string.
if (!/^[A-Za-z0-9_.+*#-]{1,64}$/.test(dialled)) {
  await sys.Respond(404, 'Not Found');
  return;
}

// Rings every registered phone of that account. An unknown account fails with 404, one with no
// phone online with 480; busy or no answer is passed back to the caller as it happened.
sys.Log(\`calling \${dialled}@local\`);
await sys.Dial(\`\${dialled}@local\`);
`;
