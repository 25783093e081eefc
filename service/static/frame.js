/*! newsletter-service iframe sizing, for pages that frame /forms/<slug>.
 * <iframe src=".../forms/daily" title="Newsletter signup" style="width:100%;height:260px;border:0"></iframe>
 * <script src=".../embed/frame.js" async></script>
 * The form page tells its parent its height as {type: "newsletter-service:height", height: N}
 * (N: CSS pixels, a number from 0 to 10000); this sets that iframe's height. A message counts
 * only if it comes from the origin this script was loaded from and from one of this page's
 * iframes; anything else is ignored. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var TYPE = "newsletter-service:height", MAX = 10000;

  window.addEventListener("message", function (event) {
    if (event.origin !== ORIGIN) return;
    var data = event.data;
    if (!data || typeof data !== "object" || data.type !== TYPE) return;
    var height = data.height;
    if (typeof height !== "number" || !isFinite(height) || height < 0 || height > MAX) return;
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.ceil(height) + "px";
        return;
      }
    }
  });
})();
