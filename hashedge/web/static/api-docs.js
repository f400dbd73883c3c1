// /api/docs: Swagger UI over the app's own OpenAPI document (vendored, no CDN; no inline script,
// so the page keeps the app's Content-Security-Policy).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    validatorUrl: null,  // the default would send the document to an online validator
  });
});
