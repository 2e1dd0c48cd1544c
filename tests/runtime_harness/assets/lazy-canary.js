/* Harness only: a script inside lazily loaded HTML; the runtime must never run it. */
window.__pzLazyScriptRan = true;
