/* Harness only: pretends htmx is on the page, so capture forms with hx-post are left to it. */
window.htmx = { version: "stub" };
