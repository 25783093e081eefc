/* GET /docs: start Swagger UI (vendor/swagger-ui) on this service's OpenAPI document.
   Our own file, so the page needs no inline script under its Content-Security-Policy. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url") || "/openapi.json",
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // never ask validator.swagger.io: nothing leaves this origin
    persistAuthorization: false, // the API key stays in this tab's memory only
    displayRequestDuration: true,
  });
})();
