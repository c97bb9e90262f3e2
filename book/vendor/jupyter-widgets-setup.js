// Prepares a book page for the vendored @jupyter-widgets/html-manager (embed-amd.js).
// _config.yml loads this file between require.js and embed-amd.js; it is ours, not from npm.
(function () {
  // 1. Where the bundle lives. embed-amd.js defines the modules "@jupyter-widgets/base",
  // "/controls", "/html-manager" and "/html-manager/dist/libembed-amd", and each looks for its
  // font files in the folder of the URL RequireJS gives its name; by default that is
  // <page folder>/@jupyter-widgets/..., which the book does not have. Point every name at
  // _static/jupyter-widgets/html-manager/, where the fonts are.
  var folder = new URL("jupyter-widgets/html-manager/", document.currentScript.src).href;
  require.config({
    paths: {
      "@jupyter-widgets/base": folder + "embed-amd",
      "@jupyter-widgets/controls": folder + "embed-amd",
      "@jupyter-widgets/html-manager": folder + "embed-amd",
      "@jupyter-widgets/html-manager/dist": folder.slice(0, -1),
    },
  });

  // 2. Formulas in widget labels. The widgets typeset labels with MathJax 2's
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has no
  // Hub, so on a page with both a formula and a widget the call throws. Translate it to MathJax 3.
  // MathJax (a deferred script) is loaded by DOMContentLoaded; this listener runs before the
  // widget manager's because this file is loaded first.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub || !mathjax.startup) return;
    mathjax.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (command) {
          if (!Array.isArray(command) || command[0] !== "Typeset") return;
          var elements = command[2] ? [command[2]] : undefined;
          mathjax.startup.promise
            .then(function () { return mathjax.typesetPromise(elements); })
            .catch(function (error) { console.warn("MathJax could not typeset a widget label", error); });
        });
      },
    };
  });
})();
