// Starts `fluxo lsp` for JSON files: the server lints flows, Watson workspaces, integrations
// files and conversation tests, and leaves every other JSON file alone.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

/** The binary to start: the `fluxo.path` setting, or `fluxo` on PATH. */
function binary(): string {
  const configured = vscode.workspace.getConfiguration("fluxo").get<string>("path", "");
  return configured.trim() !== "" ? configured.trim() : "fluxo";
}

async function start(): Promise<void> {
  const command = binary();
  // With the stdio transport the client adds `--stdio`, which `fluxo lsp` accepts.
  const run = { command, args: ["lsp"], transport: TransportKind.stdio };
  const serverOptions: ServerOptions = { run, debug: run };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "json" },
      { scheme: "untitled", language: "json" },
    ],
    synchronize: {
      // What other files' diagnostics depend on.
      fileEvents: vscode.workspace.createFileSystemWatcher(
        "**/{fluxo.toml,integrations.json,*.test.json}"
      ),
    },
  };
  client = new LanguageClient("fluxo", "fluxo", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (e) {
    client = undefined;
    void vscode.window.showErrorMessage(
      `fluxo: cannot start \`${command} lsp\` (${String(e)}). Install fluxo ` +
        "(`pip install fluxo`, `npm install -g fluxo` or `cargo install fluxo`) " +
        "or set `fluxo.path` to the binary."
    );
  }
}

async function restart(): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
  await start();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("fluxo.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("fluxo.path")) {
        await restart();
      }
    })
  );
  await start();
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
