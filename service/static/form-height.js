/*! newsletter-service: the /forms/<slug> page tells the page framing it how tall it is, each
 * time that changes (a message shown, the form wrapping at a narrow width), as
 * {type: "newsletter-service:height", height: N} in CSS pixels. /embed/frame.js on the parent
 * sizes the iframe to it. The message carries nothing else, and only the allowed origins
 * (frame-ancestors) can frame this page, so it is posted to any parent ("*"). */
(function () {
  "use strict";
  if (window.parent === window || typeof ResizeObserver === "undefined") return;
  var last = -1;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "newsletter-service:height", height: height }, "*");
  }
  new ResizeObserver(report).observe(document.documentElement);
  report();
})();
