// Prints the ClientCapabilities that vscode-languageclient (the library VS Code extensions,
// including editors/vscode, use) sends in `initialize`. It runs the library's own
// fillClientCapabilities code outside VS Code, with a do-nothing stand-in for the `vscode`
// module. Output: vscode-capabilities.json (committed; regenerate with `npm run capabilities`).
'use strict';
const Module = require('module');

function stub(name) {
  const fn = function () {
    return stub(name + '()');
  };
  return new Proxy(fn, {
    get(_t, prop) {
      if (prop === Symbol.toPrimitive) return () => name;
      if (prop === 'then') return undefined;
      if (name === 'vscode' && prop === 'version') return '1.95.0';
      if (name === 'vscode' && prop === 'env') return { language: 'en', appName: 'Visual Studio Code', appHost: 'desktop', uiKind: 1 };
      if (prop === Symbol.iterator) return function* () {};
      return stub(name + '.' + String(prop));
    },
    construct() {
      return stub('new ' + name);
    },
    apply() {
      return stub(name + '()');
    },
  });
}

const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') {
    return stub('vscode');
  }
  return originalLoad.call(this, request, parent, isMain);
};

const { LanguageClient } = require('vscode-languageclient/node');
const client = new LanguageClient('devstral', 'Devstral', { command: 'devstral-lsp' }, {
  documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
});
const capabilities = client.computeClientCapabilities();
process.stdout.write(JSON.stringify({ capabilities }, null, 2) + '\n');
