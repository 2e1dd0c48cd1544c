/* Starts Swagger UI on /personalize/api/docs/ (a file, not an inline script: CSP). */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // Keys typed into "Authorize" stay in this tab's memory, never in localStorage.
    persistAuthorization: false,
    tryItOutEnabled: false
  });
})();
