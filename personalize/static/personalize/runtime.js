/*! personalize runtime: shows server-rendered campaigns, reports widgets. Contract: docs/runtime.md */
(() => {
  "use strict";

  const doc = document;
  const win = window;
  const root = doc.documentElement;
  const FOCUSABLE = "a[href],button,input,select,textarea,iframe,[tabindex]";
  const XRW = { "X-Requested-With": "personalize" };

  let endpoint = null; // until configured; "" (none, or not same-origin) sends nothing
  let token = "";
  let queue = [];
  let countdowns = [];
  let ticker = 0;
  let modal = null; // state of the open popup
  const overlays = {}; // slug -> state

  const attr = (el, name) => el.getAttribute("data-pz-" + name);
  const sameOrigin = (url) => {
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch (e) {
      return false;
    }
  };
  // Tabbable and rendered (hidden inputs and [hidden] content have no boxes).
  const focusables = (el) => [...el.querySelectorAll(FOCUSABLE)]
    .filter((n) => !n.disabled && n.tabIndex >= 0 && n.getClientRects().length);


  const flush = () => {
    while (queue.length) {
      const body = JSON.stringify({ token, events: queue.splice(0, 20) });
      // text/plain keeps the request "simple": no CORS preflight.
      const type = "text/plain;charset=UTF-8";
      if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], { type })))) {
        fetch(endpoint, {
          method: "POST", body, keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": type }
        }).catch(() => {});
      }
    }
  };

  const send = (event) => {
    if (!endpoint) return;
    // A microtask batches this task's events and runs before a clicked link navigates.
    if (!queue.length) Promise.resolve().then(flush);
    event.path = location.pathname;
    queue.push(event);
  };

  const report = (type, el) => send({
    type,
    campaign: attr(el, "campaign"),
    variant: attr(el, "variant") || "",
    kind: attr(el, "kind") || ""
  });

  // #pz-overlays decides (an empty endpoint in a staff preview silences everything),
  // else the first element with one: a widget, maybe swapped in later.
  const configure = (el) => {
    if (endpoint !== null || !el) return;
    const url = attr(el, "endpoint") || "";
    endpoint = url && sameOrigin(url) ? url : "";
    token = attr(el, "token") || "";
  };

  const items = (widget) => [...widget.querySelectorAll("[data-pz-item]")];

  const reportWidget = (type, el, props) => {
    configure(el); // a widget swapped in later may bring the page's only endpoint
    send({ type, widget: attr(el, "widget"), strategy: attr(el, "strategy") || "", ...props });
  };


  const focusInto = (st) => {
    const panel = st.el.querySelector(".pz-panel") || st.el;
    let first = focusables(panel)[0];
    if (!first) {
      panel.tabIndex = -1;
      first = panel;
    }
    first.focus();
  };

  // Open bars reserve their height (--pz-top/--pz-bottom on <html>) so the page's own
  // header and footer stay visible and slide-ins sit above a bottom bar.
  const dock = () => {
    ["top", "bottom"].forEach((side) => {
      const bar = doc.querySelector(`.pz-bar.pz-pos-${side}.pz-open`);
      root.style.setProperty(`--pz-${side}`, bar ? bar.offsetHeight + "px" : "0px");
      root.classList.toggle(`pz-docked-${side}`, !!bar);
    });
  };

  const open = (st) => {
    const el = st.el;
    // One popup at a time: a later one (or its control) is dropped.
    if (st.open || st.gone || (st.kind === "popup" && modal)) return false;
    st.open = true;
    if (st.control) {
      report("exposure", el);
      return true;
    }
    el.hidden = false;
    void el.offsetWidth; // so the opening transition runs
    el.classList.add("pz-open");
    report("impression", el);
    if (st.kind === "bar") dock();
    if (st.kind === "popup") {
      modal = st;
      st.back = doc.activeElement;
      // No sideways jump when the scrollbar goes.
      root.style.setProperty("--pz-scrollbar", win.innerWidth - root.clientWidth + "px");
      root.classList.add("pz-lock");
      focusInto(st);
    }
    return true;
  };

  const close = (st, byVisitor) => {
    const el = st.el;
    if (!st.open || st.control) return;
    st.open = false;
    el.classList.remove("pz-open");
    el.hidden = true;
    if (byVisitor) report("close", el);
    if (st.kind === "bar") dock();
    if (modal === st) {
      modal = null;
      root.classList.remove("pz-lock");
      const back = st.back;
      if (back && back.focus && back.isConnected && back !== doc.body) back.focus();
      else if (el.contains(doc.activeElement)) doc.activeElement.blur();
    }
  };

  const fire = (st) => {
    if (!st.fired) {
      st.fired = true;
      open(st);
    }
  };

  // The overlay state owning node; null for slots and page content.
  const stateOf = (node) => {
    const el = node && node.closest && node.closest("[data-pz-campaign]");
    const st = el && overlays[attr(el, "campaign")];
    return st && st.el === el ? st : null;
  };


  const arm = (st) => {
    const trigger = attr(st.el, "trigger");
    const value = parseFloat(attr(st.el, "trigger-value")) || 0;
    const go = () => fire(st);
    if (trigger === "immediate" || trigger === "pageview") {
      go();
    } else if (trigger === "delay") {
      setTimeout(go, value * 1000);
    } else if (trigger === "scroll") {
      const onScroll = () => {
        const max = root.scrollHeight - win.innerHeight;
        // A page too short to scroll has been seen in full.
        if ((max > 0 ? (win.pageYOffset / max) * 100 : 100) >= value) {
          win.removeEventListener("scroll", onScroll);
          go();
        }
      };
      win.addEventListener("scroll", onScroll, { passive: true });
      // Measure again once images have their height.
      if (doc.readyState === "complete") onScroll();
      else win.addEventListener("load", onScroll);
    } else if (trigger === "exit") {
      // Touch-only devices have no pointer to leave the window.
      if (win.matchMedia("(hover: none)").matches) return;
      const onOut = (e) => {
        if (!e.relatedTarget && e.clientY <= 0) {
          doc.removeEventListener("mouseout", onOut);
          go();
        }
      };
      doc.addEventListener("mouseout", onOut);
    } else if (trigger === "inactivity") {
      st.idle = value * 1000;
      st.timer = setTimeout(go, st.idle);
    }
    // Any other trigger: shown only by window.personalize.show().
  };

  const onActivity = () => {
    Object.values(overlays).forEach((st) => {
      if (st.idle && !st.fired) {
        clearTimeout(st.timer);
        st.timer = setTimeout(() => fire(st), st.idle);
      }
    });
  };


  const onKeydown = (e) => {
    const active = doc.activeElement;
    if (e.key === "Escape") {
      // A popup closes from anywhere, a bar or slide-in only from inside.
      const st = modal || stateOf(active);
      if (st && st.open) {
        e.preventDefault();
        close(st, true);
      }
    } else if (e.key === "Tab" && modal) {
      const items = focusables(modal.el);
      const last = items[items.length - 1];
      const outside = !modal.el.contains(active);
      if (!last) {
        e.preventDefault();
        focusInto(modal);
      } else if (e.shiftKey ? active === items[0] || outside : active === last || outside) {
        e.preventDefault();
        (e.shiftKey ? last : items[0]).focus();
      }
    }
  };

  const onFocusin = (e) => {
    // Focus escaping a modal (a screen reader's cursor, say) is pulled back.
    if (modal && !modal.el.contains(e.target)) focusInto(modal);
  };

  const onClick = (e) => {
    const target = e.target;
    if (!target.closest) return;
    const st = stateOf(target);
    if (st && target.closest("[data-pz-close]")) {
      e.preventDefault();
      close(st, true);
      return;
    }
    const cta = target.closest("[data-pz-cta]");
    const owner = cta && cta.closest("[data-pz-campaign]");
    if (owner) report("click", owner);
  };


  // Only ever given a same-origin response of a personalize endpoint.
  const insertHtml = (target, html, replace) => {
    const tpl = doc.createElement("template");
    tpl.innerHTML = html;
    const nodes = [...tpl.content.children];
    if (replace) target.replaceWith(tpl.content);
    else target.replaceChildren(tpl.content);
    nodes.forEach(watch);
    return nodes[0];
  };

  const onSubmit = (e) => {
    const form = e.target;
    if (!form.matches("[data-pz-capture]") || !sameOrigin(form.action)) return;
    if (win.htmx && (form.hasAttribute("hx-post") || form.hasAttribute("data-hx-post"))) return;
    e.preventDefault();
    if (form.getAttribute("aria-busy")) return;
    form.setAttribute("aria-busy", "true");
    form.classList.remove("pz-failed");
    const csrf = form.querySelector('[name="csrfmiddlewaretoken"]');
    const hadFocus = form.contains(doc.activeElement) || doc.activeElement === doc.body;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { ...XRW, "X-CSRFToken": csrf ? csrf.value : "" }
    }).then((response) => {
      // 2xx: the thank-you fragment; 400 or 422: the form with its errors.
      const { status } = response;
      if (!sameOrigin(response.url) || !(response.ok || status === 400 || status === 422)) throw status;
      return response.text();
    }).then((html) => {
      const first = insertHtml(form, html, true);
      if (first && hadFocus) {
        let next = first.querySelector('[aria-invalid="true"]') || focusables(first)[0];
        if (!next) {
          if (!first.hasAttribute("tabindex")) first.tabIndex = -1;
          next = first;
        }
        next.focus();
      }
    }).catch(() => {
      form.removeAttribute("aria-busy");
      form.classList.add("pz-failed");
    });
  };

  // Lazy placeholders and refreshable widgets carry hx-get for htmx; without htmx the runtime
  // swaps them itself, marking them hx-disable so that an htmx arriving later leaves them be.
  const load = (el) => {
    const url = el.getAttribute("hx-get");
    if (!url || !sameOrigin(url) || el.getAttribute("aria-busy")) return;
    el.setAttribute("hx-disable", "");
    el.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: XRW }).then((response) => {
      // 204 (nothing to show), an error, a redirect elsewhere: the placeholder stays.
      if (response.status !== 200 || !sameOrigin(response.url)) throw 0;
      return response.text();
    }).then((html) => insertHtml(el, html, true))
      .catch(() => el.removeAttribute("aria-busy"));
  };

  const refresh = () => {
    doc.querySelectorAll("[data-pz-refresh]").forEach((el) =>
      (!win.htmx || el.hasAttribute("hx-disable")) && load(el));
    Object.values(overlays).forEach((st) => {
      const src = attr(st.el, "src");
      if (!src || !sameOrigin(src)) return;
      fetch(src, { credentials: "same-origin", headers: XRW }).then((response) => {
        if (!sameOrigin(response.url)) return;
        if (response.status === 204) {
          st.gone = true; // the campaign no longer applies to this visitor
          close(st, false);
        } else if (response.ok) {
          return response.text().then((html) => {
            const hadFocus = st.el.contains(doc.activeElement);
            st.gone = false;
            insertHtml(st.el, html, false);
            startCountdowns(st.el);
            if (hadFocus || modal === st) focusInto(st);
          });
        }
      }).catch(() => {});
    });
  };


  const pad = (n) => String(n).padStart(2, "0");

  const tick = () => {
    const now = Date.now();
    countdowns = countdowns.filter(({ el, end }) => {
      if (!el.isConnected) return false;
      const left = Math.max(0, Math.floor((end - now) / 1000));
      const days = Math.floor(left / 86400);
      el.textContent = (days ? days + "d " : "") + pad(Math.floor(left / 3600) % 24) + ":" +
        pad(Math.floor(left / 60) % 60) + ":" + pad(left % 60);
      if (left) return true;
      const owner = el.closest("[data-pz-campaign]");
      if (owner) owner.classList.add("pz-expired");
      return false;
    });
    if (!countdowns.length) ticker = clearInterval(ticker) || 0;
  };

  const startCountdowns = (scope) => {
    scope.querySelectorAll("[data-pz-countdown]").forEach((el) => {
      const end = Date.parse(attr(el, "countdown"));
      if (isNaN(end)) return;
      el.setAttribute("aria-live", "off"); // no chatter in screen readers
      countdowns.push({ el, end });
    });
    tick();
    if (countdowns.length && !ticker) ticker = setInterval(tick, 1000);
  };


  // A control slot shows the shop's default content: that is an exposure, not an impression.
  const seen = (el) => (el.hasAttribute("data-pz-control") ? "exposure" : "impression");

  let observer = null;
  const watched = new WeakMap(); // element -> what to report when it is seen

  // Reports an element once, when half of it (or half the viewport, if it is very tall)
  // is in view; without IntersectionObserver, at once.
  const onceSeen = (el, seenFn) => {
    if (watched.has(el)) return;
    watched.set(el, seenFn);
    if (!win.IntersectionObserver) return seenFn();
    observer = observer || new IntersectionObserver((entries) => {
      entries.forEach((entry) => {
        const box = entry.rootBounds;
        if (entry.isIntersecting && (entry.intersectionRatio >= 0.5 ||
            (box && entry.intersectionRect.height >= box.height / 2))) {
          observer.unobserve(entry.target);
          watched.get(entry.target)();
        }
      });
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    observer.observe(el);
  };

  // Slots and widgets in scope (the scope included): at start-up, and in HTML added later.
  const watch = (scope) => {
    const all = (sel) => (scope.matches(sel) ? [scope] : []).concat([...scope.querySelectorAll(sel)]);
    all('[data-pz-kind="slot"][data-pz-campaign]').forEach((el) => onceSeen(el, () => report(seen(el), el)));
    all("[data-pz-widget]").forEach((el) => onceSeen(el, () =>
      reportWidget("rec_view", el, el.hasAttribute("data-pz-holdout")
        ? { holdout: true } // held out: the widget would have been here, showing nothing
        : { count: items(el).length || undefined })));
  };

  // Any click on a product's link, new-tab ones included (Ctrl/Cmd/Shift or the middle button).
  const onItemClick = (e) => {
    const link = e.target.closest && e.target.closest("a[href]");
    const item = link && link.closest("[data-pz-item]");
    const widget = item && item.closest("[data-pz-widget]");
    if (!widget || (e.type === "auxclick" && e.button !== 1)) return;
    reportWidget("rec_click", widget, {
      product_id: attr(item, "item"),
      position: parseInt(attr(item, "position"), 10) || items(widget).indexOf(item) + 1
    });
  };


  const init = () => {
    const box = doc.getElementById("pz-overlays");
    configure(box || doc.querySelector("[data-pz-endpoint]"));
    doc.addEventListener("keydown", onKeydown);
    doc.addEventListener("focusin", onFocusin);
    doc.addEventListener("click", onClick);
    doc.addEventListener("click", onItemClick);
    doc.addEventListener("auxclick", onItemClick);
    // htmx fires htmx:load on every element it swaps in.
    doc.addEventListener("htmx:load", (e) => e.target.matches && watch(e.target));
    doc.addEventListener("submit", onSubmit);
    doc.addEventListener("pz:refresh", refresh);
    ["pointermove", "pointerdown", "keydown", "scroll", "touchstart", "wheel"].forEach((type) =>
      win.addEventListener(type, onActivity, { passive: true, capture: true }));
    doc.addEventListener("visibilitychange", () => doc.visibilityState === "hidden" && flush());
    win.addEventListener("pagehide", flush);

    if (box) {
      box.querySelectorAll("[data-pz-campaign][data-pz-kind]").forEach((el) => {
        overlays[attr(el, "campaign")] = { el, kind: attr(el, "kind"), control: el.hasAttribute("data-pz-control") };
      });
    }
    watch(root);
    if (!win.htmx) doc.querySelectorAll("[data-pz-lazy]").forEach(load);
    startCountdowns(doc);
    Object.values(overlays).forEach(arm);
  };

  win.personalize = Object.freeze({
    /** Shows a campaign now, whatever its trigger; false if it is absent or cannot be shown. */
    show(slug) {
      const st = overlays[slug];
      if (!st) return false;
      st.fired = true;
      return open(st);
    },
    /** Hides a campaign without reporting a close: the visitor did not dismiss it. */
    hide(slug) {
      if (overlays[slug]) close(overlays[slug], false);
    },
    /** Re-fetches every campaign that has data-pz-src, as a pz:refresh event does. */
    refresh
  });

  // A deferred script runs before DOMContentLoaded and before the deferred scripts after it
  // (htmx, maybe): wait for them too, so that win.htmx is known.
  const script = doc.currentScript;
  if (doc.readyState === "loading" || (script && script.defer && !script.async)) {
    doc.addEventListener("DOMContentLoaded", init);
  } else init();
})();
