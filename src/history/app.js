// The visitor history page's script: the live view (server-sent events), infinite scroll,
// and nothing else. It loads nothing from another origin; the page works without it.
"use strict";
(() => {
  const timeline = document.getElementById("timeline");
  const live = document.getElementById("live");
  if (!timeline || !live) return;
  const search = new URLSearchParams(location.search);
  // A later page (reached through "Older events") does not grow at the top.
  const atTop = !search.has("before");

  const part = (name, extra) => {
    const p = new URLSearchParams(search);
    p.delete("before");
    p.set("part", name);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return "./?" + p.toString();
  };
  const get = async (url) => {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const t = document.createElement("template");
    t.innerHTML = await r.text();
    return t.content;
  };
  // One heading per day: when pages join, the lower copy goes.
  const dedupe = () => {
    const seen = new Set();
    for (const h of timeline.querySelectorAll("li.day")) {
      if (seen.has(h.dataset.day)) h.remove();
      else seen.add(h.dataset.day);
    }
  };

  let refreshing = false;
  let again = false;
  const refresh = async () => {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        live.replaceChildren(...(await get(part("live"))).childNodes);
        // The newest page again: new events go on top, and events already shown are
        // redrawn when they changed (a clip is written after its picture), unless playing.
        const fresh = (await get(part("newer"))).querySelector("ol");
        const head = [];
        let known = false;
        for (const li of fresh ? [...fresh.children] : []) {
          const old = li.classList.contains("event")
            ? timeline.querySelector('li.event[data-id="' + CSS.escape(li.dataset.id) + '"]')
            : null;
          if (old) {
            known = true;
            const v = old.querySelector("video");
            if (old.outerHTML !== li.outerHTML && (!v || v.paused)) old.replaceWith(li);
          } else if (!known) {
            head.push(li);
          }
        }
        if (atTop && head.some((li) => li.classList.contains("event"))) {
          timeline.prepend(...head);
          dedupe();
          const empty = document.getElementById("empty");
          if (empty) empty.remove();
        }
      } while (again);
    } catch (e) {
      // The next event or reconnection tries again.
    } finally {
      refreshing = false;
    }
  };
  if (window.EventSource) {
    const events = new EventSource("events");
    events.onmessage = refresh;
    // The body says whether the live view is connected (a style hook, and tests read it).
    events.onopen = () => { document.body.dataset.live = "on"; refresh(); };
    events.onerror = () => { document.body.dataset.live = "off"; };
  }

  let loading = false;
  const older = async () => {
    const more = document.getElementById("more");
    const a = more && more.querySelector("a.older");
    if (!a || loading) return;
    loading = true;
    try {
      const url = new URL(a.href);
      url.searchParams.set("part", "older");
      const frag = await get(url.toString());
      const list = frag.querySelector("ol");
      if (list) timeline.append(...list.children);
      dedupe();
      const next = frag.querySelector("#more");
      if (next) more.replaceWith(next);
      watch();
    } catch (e) {
      // The link stays for a tap.
    } finally {
      loading = false;
    }
  };
  let observer = null;
  const watch = () => {
    const more = document.getElementById("more");
    if (!more || !window.IntersectionObserver) return;
    if (observer) observer.disconnect();
    observer = new IntersectionObserver((seen) => {
      if (seen.some((s) => s.isIntersecting)) older();
    }, { rootMargin: "600px" });
    observer.observe(more);
  };
  watch();
})();
