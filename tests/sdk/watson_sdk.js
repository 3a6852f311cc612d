// Drives `fluxo serve` with IBM's Node SDK (`ibm-watson/assistant/v1`), unchanged.
// Usage: node watson_sdk.js SERVICE_URL WORKSPACE_ID TOKEN (NODE_PATH finds ibm-watson).
// Prints one line per check; exits 1 at the first failure.
const AssistantV1 = require('ibm-watson/assistant/v1');
const { BearerTokenAuthenticator } = require('ibm-watson/auth');

const [url, workspaceId, token] = process.argv.slice(2);

function check(ok, what, got) {
  if (!ok) {
    console.log(`FAIL: ${what}: ${JSON.stringify(got)}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

function assistant(gzip, bearer = token) {
  return new AssistantV1({
    version: '2021-06-14',
    authenticator: new BearerTokenAuthenticator({ bearerToken: bearer }),
    serviceUrl: url,
    enableGzipCompression: gzip,
  });
}

async function refused(promise, status, what) {
  try {
    await promise;
    check(false, `${what} is refused`);
  } catch (e) {
    check(e.code === status && typeof e.message === 'string' && e.message.length > 0
      && e.message !== e.statusText, `${what}: ${status} with a message (${e.message})`, [e.code, e.message]);
  }
}

(async () => {
  for (const gzip of [false, true]) {
    const a = assistant(gzip);
    const listed = (await a.listWorkspaces({ includeCount: true })).result;
    check(listed.workspaces.some((w) => w.workspace_id === workspaceId), `listWorkspaces names the workspace (gzip=${gzip})`, listed);
    const exported = (await a.getWorkspace({ workspaceId, _export: true })).result;
    check((exported.dialog_nodes || []).length > 0, 'getWorkspace(export) has the nodes', exported);

    let context;
    const said = [];
    for (const text of ['', 'I want a pizza', 'large please']) {
      const r = (await a.message({ workspaceId, input: { text }, context, nodesVisitedDetails: true, userId: 'sdk-user' })).result;
      check(r.user_id === 'sdk-user', 'user_id echoed', r.user_id);
      check(Array.isArray(r.output.nodes_visited_details), 'nodes_visited_details present', r.output);
      said.push(r.output.text);
      context = r.context;
    }
    check(JSON.stringify(said) === JSON.stringify([['Hello! What would you like?'], ['What size?'], ['A large pizza, coming up.']]),
      `the conversation goes on turn after turn (gzip=${gzip})`, said);
    const r = (await a.message({ workspaceId, input: { text: 'hi' } })).result;
    check(r.user_id === r.context.conversation_id, 'user_id defaults to conversation_id', r);

    await refused(a.message({ workspaceId: 'no-such-workspace', input: { text: 'hi' } }), 404, 'unknown workspace');
    await refused(a.message({ workspaceId, input: { text: 'x'.repeat(2049) } }), 400, 'text over 2,048 characters');
    await refused(a.message({ workspaceId, input: { text: 'a\tb' } }), 400, 'a tab in the text');
    await refused(a.createWorkspace({ name: 'new' }), 501, 'a write call');
  }
  await refused(assistant(false, 'wrong').listWorkspaces(), 401, 'a wrong token');
  console.log(JSON.stringify({ node_sdk: 'passed' }));
})().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
