/* Harness only: records CSP violations and the globals present before the runtime loads. */
(function () {
  "use strict";
  var harness = { violations: [], globals: Object.keys(window) };
  window.__pzHarness = harness;
  document.addEventListener("securitypolicyviolation", function (e) {
    harness.violations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
  });
})();
