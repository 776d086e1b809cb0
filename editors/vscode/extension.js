// The whole client: start `moeplan lsp` on stdio for .moe files. Plain JavaScript, no build step.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration('moeplan');
  const server = { command: settings.get('path', 'moeplan'), args: ['lsp', '--debounce-ms', String(settings.get('debounceMs', 25))] };
  client = new LanguageClient('moeplan', 'moeplan', server, { documentSelector: [{ scheme: 'file', language: 'moeplan' }] });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
