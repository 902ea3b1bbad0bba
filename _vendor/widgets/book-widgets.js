/* Glue between the book's pages and the vendored widget bundle (loaded right after require.js).
 *
 * 1. embed-amd.js loads its fonts from the folder of the AMD module
 *    "@jupyter-widgets/html-manager/dist/...", which RequireJS would resolve against the page's
 *    folder; map it to this folder (_static/widgets/) so the fonts load from the book.
 * 2. The widget bundle typesets labels with the MathJax 2 call MathJax.Hub.Queue; the book uses
 *    MathJax 3, so provide that one call on top of MathJax 3's typesetPromise.
 */
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": here.replace(/\/$/, "") } });

  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
            mj.startup.promise.then(function () { return mj.typesetPromise([job[2]]); });
          }
        });
      },
    };
  });
})();
