// Tell RequireJS where the vendored widget manager lives. embed-amd.js defines the modules
// "@jupyter-widgets/base", "/controls", "/html-manager" and "/html-manager/dist/libembed-amd", and
// each looks for its font files in the folder of the URL RequireJS gives its name; by default that
// is <page folder>/@jupyter-widgets/..., which the book does not have. Point every name at
// _static/jupyter-widgets/html-manager/, where the fonts are.
// _config.yml loads this file between require.js and embed-amd.js; it is not from npm.
(function () {
  var folder = new URL("jupyter-widgets/html-manager/", document.currentScript.src).href;
  require.config({
    paths: {
      "@jupyter-widgets/base": folder + "embed-amd",
      "@jupyter-widgets/controls": folder + "embed-amd",
      "@jupyter-widgets/html-manager": folder + "embed-amd",
      "@jupyter-widgets/html-manager/dist": folder.slice(0, -1),
    },
  });
})();
