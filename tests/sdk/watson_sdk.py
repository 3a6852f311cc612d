"""Drives `fluxo serve` with IBM's Python SDK (`ibm-watson`, AssistantV1), unchanged.

Usage: python3 watson_sdk.py SERVICE_URL WORKSPACE_ID TOKEN
Prints one line per check; exits 1 at the first failure.
"""
import json
import sys

from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import BearerTokenAuthenticator
from ibm_watson import AssistantV1
from ibm_watson.assistant_v1 import (MessageInput, MessageResponse, Workspace,
                                     WorkspaceCollection)

url, workspace_id, token = sys.argv[1], sys.argv[2], sys.argv[3]


def check(ok, what, got=None):
    if not ok:
        print("FAIL: %s: %r" % (what, got))
        sys.exit(1)
    print("ok: %s" % what)


def assistant(gzip):
    a = AssistantV1(version="2021-06-14", authenticator=BearerTokenAuthenticator(token))
    a.set_service_url(url)
    a.set_enable_gzip_compression(gzip)
    return a


for gzip in (False, True):
    a = assistant(gzip)
    listed = a.list_workspaces(include_count=True).get_result()
    collection = WorkspaceCollection.from_dict(listed)
    ids = [w.workspace_id for w in collection.workspaces]
    check(workspace_id in ids, "list_workspaces names the workspace (gzip=%s)" % gzip, ids)
    exported = Workspace.from_dict(a.get_workspace(workspace_id, export=True).get_result())
    check(len(exported.dialog_nodes or []) > 0, "get_workspace(export=True) has the nodes", exported)

    # A multi-turn conversation: the context of each answer goes into the next request.
    context = None
    said = []
    for text in ["", "I want a pizza", "large please"]:
        r = a.message(workspace_id, input=MessageInput(text=text), context=context,
                      nodes_visited_details=True, user_id="sdk-user").get_result()
        m = MessageResponse.from_dict(r)
        check(m.user_id == "sdk-user", "user_id echoed", m.user_id)
        check(all(d.dialog_node for d in m.output.nodes_visited_details or []),
              "nodes_visited_details parsed", r["output"])
        said.append(m.output.text)
        context = m.context
    check(said == [["Hello! What would you like?"], ["What size?"], ["A large pizza, coming up."]],
          "the conversation goes on turn after turn (gzip=%s)" % gzip, said)

    # Without user_id, the v1 API's default: the conversation id.
    r = a.message(workspace_id, input=MessageInput(text="hi")).get_result()
    m = MessageResponse.from_dict(r)
    check(m.user_id == m.context.conversation_id, "user_id defaults to conversation_id", r)

    # A log message parses (its `code` is required by the model).
    r = a.message(workspace_id, input=MessageInput(text="broken")).get_result()
    m = MessageResponse.from_dict(r)
    check(len(m.output.log_messages) > 0 and all(isinstance(l.code, str) for l in m.output.log_messages),
          "log messages carry a code", r["output"])

    # Errors: the ApiException's message is a sentence.
    for call, status, what in [
        (lambda: a.message("no-such-workspace", input=MessageInput(text="hi")), 404, "unknown workspace"),
        (lambda: a.message(workspace_id, input=MessageInput(text="x" * 2049)), 400, "text over 2,048 characters"),
        (lambda: a.message(workspace_id, input=MessageInput(text="a\nb")), 400, "a newline in the text"),
        (lambda: a.create_workspace(name="new"), 501, "a write call"),
    ]:
        try:
            call()
            check(False, what + " is refused")
        except ApiException as e:
            check(e.code == status and isinstance(e.message, str) and e.message,
                  "%s: %d with a message (%s)" % (what, status, e.message), (e.code, e.message))

try:
    bad = AssistantV1(version="2021-06-14", authenticator=BearerTokenAuthenticator("wrong"))
    bad.set_service_url(url)
    bad.list_workspaces()
    check(False, "a wrong token is refused")
except ApiException as e:
    check(e.code == 401 and isinstance(e.message, str), "a wrong token: 401 (%s)" % e.message, e.message)
print(json.dumps({"python_sdk": "passed"}))
