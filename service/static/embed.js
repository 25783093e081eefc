/*! newsletter-service signup box. One <script src=".../embed.js" data-newsletters="daily"> per box.
 * Renders into an open shadow root next to its script tag and posts JSON to the origin it came
 * from (credentials omitted). No dependencies. data- attributes: newsletters ("a,b": checkboxes),
 * title, description, button, locale (en|uk; default: the page's <html lang>, then the
 * browser's languages, then en), theme (light|dark), accent (#hex), compact,
 * checked ("all" ticks every newsletter), form (sent as `form`, default "embed"), source-url
 * (sent as `source_url`, default this page's address).
 * Typos: the server judges every address. A likely typo (gmial.com) comes back as 422 with a
 * `suggestion`: the box offers the fix in one click and "use it anyway", which posts again
 * with `confirm_address: true`.
 * Abuse checks: the box sends `elapsed_ms` (time since it was drawn) and never posts sooner
 * than the server's minimum (SIGNUP_MIN_SECONDS: 2 s until /embed/newsletters.json's `_config`
 * says otherwise), waiting out the rest with the spinner on. If `_config.captcha` names a
 * provider, its script is loaded and the widget drawn in the host's light DOM (slotted in),
 * since provider scripts cannot reach into a shadow root.
 * For the site developer, in the browser console ("newsletter-service: ..."), with what to do:
 * no data-newsletters (no box is drawn), a slug that names no newsletter (left out; no box if
 * none is left), and a page whose origin may not sign readers up (the box says so to the reader
 * and links to the service's own /subscribe instead of a form that cannot work).
 * A 503 (the service cannot take the signup now) is posted again by itself after its
 * Retry-After (1 to 120 s), at most RETRIES times, the reader told it is waiting; then the
 * server's "try again in a minute" stays. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var API = ORIGIN + "/api/v1/subscriptions";
  var RETRIES = 3;  // automatic posts again after a 503, each after its Retry-After

  var TEXT = {
    en: {
      title: "Subscribe to our newsletter",
      several: "Subscribe to our newsletters",
      choose: "Choose newsletters",
      label: "Email address",
      button: "Subscribe",
      sending: "Sending…",
      required: "Please enter your email address",
      none: "Please choose at least one newsletter",
      invalid: "Please, enter correct email address",
      mean: "Did you mean {s}?",
      anyway: "No, use {s} anyway",
      network: "We could not reach the server. Check your connection and try again.",
      retry: "Try again",
      waiting: "We will try again in {n} seconds by ourselves; please keep this page open.",
      limited: "Too many attempts. Please wait a few minutes and try again.",
      error: "Something went wrong on our side. Please try again in a minute.",
      done: "Thank you for signing up for this newsletter. We've sent you a confirmation email.",
      elsewhere: "This site may not sign readers up to this newsletter. Please subscribe on our own website.",
      subscribe: "Subscribe on our website",
    },
    uk: {
      title: "Підпишіться на нашу розсилку",
      several: "Підпишіться на наші розсилки",
      choose: "Оберіть розсилки",
      label: "Електронна пошта",
      button: "Підписатися",
      sending: "Надсилаємо…",
      required: "Будь ласка, введіть адресу електронної пошти",
      none: "Будь ласка, оберіть хоча б одну розсилку",
      invalid: "Будь ласка, введіть коректну адресу електронної пошти",
      mean: "Можливо, ви мали на увазі {s}?",
      anyway: "Ні, все одно використати {s}",
      network: "Не вдалося зв'язатися із сервером. Перевірте з'єднання і спробуйте ще раз.",
      retry: "Спробувати ще раз",
      waiting: "Ми самі спробуємо ще раз за {n} с; будь ласка, не закривайте сторінку.",
      limited: "Забагато спроб. Зачекайте кілька хвилин і спробуйте ще раз.",
      error: "Щось пішло не так з нашого боку. Спробуйте ще раз за хвилину.",
      done: "Дякуємо за підписку на цю розсилку. Ми надіслали вам лист для підтвердження.",
      elsewhere: "Цей сайт не може підписувати читачів на цю розсилку. Будь ласка, підпишіться на нашому сайті.",
      subscribe: "Підписатися на нашому сайті",
    },
  };

  var CSS =
    ":host{all:initial;display:block;margin:24px 0}" +
    ".box{--fg:#1a1a1a;--muted:#4a4a4a;--bg:#fff;--line:#c9c9c9;--err:#b3261e;--ok:#146c2e;" +
    "font:16px/1.45 Arial,Helvetica,sans-serif;color:var(--fg);background:var(--bg);" +
    "border:1px solid var(--line);border-top:4px solid var(--accent);padding:20px 22px;max-width:600px;" +
    "box-sizing:border-box}" +
    ".dark{--fg:#f1f1f1;--muted:#c4c4c4;--bg:#1c1c1c;--line:#555;--err:#ffb4ab;--ok:#9bd8a6}" +
    "h2{font:bold 22px/1.25 Georgia,'Times New Roman',serif;margin:0 0 6px}" +
    ".desc{margin:0 0 12px;color:var(--muted)}" +
    "fieldset{border:0;padding:0;margin:0 0 10px}legend{padding:0;margin-bottom:4px;font-weight:bold}" +
    ".opt{display:flex;gap:8px;align-items:center;margin:4px 0}" +
    "slot{display:block;margin:10px 0}" +
    ".opt input{width:18px;height:18px;margin:0;accent-color:var(--accent)}" +
    ".field>label{display:block;font-weight:bold;margin:0 0 6px}" +
    ".row{display:flex;gap:8px;flex-wrap:wrap}" +
    "input[type=email]{flex:1 1 220px;min-width:0;font:inherit;font-size:17px;padding:11px 12px;" +
    "border:1px solid var(--muted);border-radius:4px;background:var(--bg);color:var(--fg)}" +
    "input[aria-invalid=true]{border:2px solid var(--err)}" +
    "button{font:bold 16px/1 Arial,Helvetica,sans-serif;border-radius:4px;cursor:pointer}" +
    ".go{position:relative;background:var(--accent);color:var(--on);border:0;padding:13px 24px}.go:disabled{cursor:progress}" +
    "[aria-busy=true] .go{color:transparent}" +
    ".spin{display:none;position:absolute;left:calc(50% - 9px);top:calc(50% - 9px);box-sizing:border-box;" +
    "width:18px;height:18px;border:2px solid var(--on);border-right-color:transparent;" +
    "border-radius:50%;animation:r .8s linear infinite}[aria-busy=true] .spin{display:inline-block}" +
    "@keyframes r{to{transform:rotate(360deg)}}" +
    "@media (prefers-reduced-motion:reduce){.spin{animation:none}}" +
    "button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}" +
    ".msg:empty{display:none}.msg{margin:8px 0 0}.err{color:var(--err);font-weight:bold}" +
    ".fixes{display:flex;flex-wrap:wrap;gap:0 18px;margin-top:2px}" +
    ".done{color:var(--ok);font-weight:bold;font-size:18px}" +
    ".elsewhere{display:block;margin-top:8px;color:inherit;font-weight:bold}" +
    ".link{background:none;border:0;padding:4px 0;color:inherit;text-decoration:underline;font:inherit;text-align:left;" +
    "font-weight:bold}.again{display:block;margin:10px 0 0;background:none;color:var(--fg);" +
    "border:1px solid var(--fg);padding:9px 14px}" +
    ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}" +
    ".compact{padding:12px 14px}.compact h2{font-size:18px}.compact .desc{display:none}" +
    ".compact .field>label{position:absolute;left:-10000px}";

  function luminance(hex) {
    var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(hex || "");
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return [0, 2, 4].reduce(function (sum, i, k) {
      var c = parseInt(h.substr(i, 2), 16) / 255;
      c = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
      return sum + c * [0.2126, 0.7152, 0.0722][k];
    }, 0);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (text) node.textContent = text;
    return node;
  }

  var PREFIX = "newsletter-service: ";

  function spoken(tag) {  // "uk-UA" -> "uk" if the box speaks it, else null
    var code = String(tag || "").trim().toLowerCase().split(/[-_]/)[0];
    return Object.prototype.hasOwnProperty.call(TEXT, code) ? code : null;
  }

  function language(ds) {  // data-locale, then the page's lang, then the browser's, then en
    if (ds.locale && !spoken(ds.locale)) {
      console.warn(PREFIX + 'data-locale="' + ds.locale + '" is not a language the box speaks (' +
        Object.keys(TEXT).join(", ") + "); it follows the page's lang and the browser instead.");
    }
    var tags = [ds.locale, document.documentElement.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < tags.length; i++) if (spoken(tags[i])) return spoken(tags[i]);
    return "en";
  }

  function names(lang, slugs) {
    return fetch(ORIGIN + "/embed/newsletters.json?locale=" + lang + "&newsletters=" +
      encodeURIComponent(slugs.join(",")), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : {}; });
  }

  function listed(found) {
    var slugs = Object.keys(found).filter(function (k) { return k !== "_config"; });
    return slugs.length ? "The newsletters: " + slugs.join(", ") + "." : "";
  }

  function mount(config) {
    var ds = config.dataset, lang = language(ds), T = TEXT[lang];
    var slugs = (ds.newsletters || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    if (!slugs.length) {
      names(lang, []).then(function (found) {
        console.error(PREFIX + "this signup box names no newsletter, so it is not shown. Add " +
          'data-newsletters="slug" to its <script src="' + script.src + '">. ' + listed(found));
      }).catch(function () {});
      return;
    }
    var dark = ds.theme === "dark";
    var accent = ds.accent && luminance(ds.accent) !== null ? ds.accent : dark ? "#8ab4f8" : "#0b57d0";
    var lum = luminance(accent);
    var on = (lum + 0.05) / 0.0622 >= 1.05 / (lum + 0.05) ? "#111" : "#fff";

    var host = el("div", { "data-newsletter-box": slugs.join(",") });
    config.parentNode.insertBefore(host, config);
    var root = host.attachShadow({ mode: "open" });
    var style = el("style", {}, CSS);
    var box = el("div", { class: "box" + (dark ? " dark" : "") + (ds.compact != null ? " compact" : ""), lang: lang });
    box.style.setProperty("--accent", accent);
    box.style.setProperty("--on", on);
    box.appendChild(el("h2", {}, ds.title || (slugs.length > 1 ? T.several : T.title)));
    if (ds.description) box.appendChild(el("p", { class: "desc" }, ds.description));

    var form = el("form", { novalidate: "" }), boxes = [];
    if (slugs.length > 1) {
      var set = el("fieldset");
      set.appendChild(el("legend", {}, T.choose));
      slugs.forEach(function (slug, i) {
        var label = el("label", { class: "opt" }), box = el("input", { type: "checkbox", value: slug });
        box.checked = i === 0 || ds.checked === "all";
        label.appendChild(box);
        label.appendChild(el("span", {}, slug));
        set.appendChild(label);
        boxes.push(box);
      });
      form.appendChild(set);
    }
    var field = el("div", { class: "field" });
    field.appendChild(el("label", { for: "email" }, T.label));
    var row = el("div", { class: "row" });
    var input = el("input", {
      id: "email", type: "email", name: "email", autocomplete: "email", inputmode: "email",
      required: "", spellcheck: "false", "aria-describedby": "msg",
    });
    if (ds.compact != null) input.setAttribute("placeholder", T.label);
    var button = el("button", { type: "submit", class: "go" });
    button.appendChild(el("span", { class: "spin", "aria-hidden": "true" }));
    var label = el("span", {}, ds.button || T.button);
    button.appendChild(label);
    row.appendChild(input);
    row.appendChild(button);
    field.appendChild(row);
    form.appendChild(field);
    var trap = el("div", { class: "hp", "aria-hidden": "true" });
    var honeypot = el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" });
    trap.appendChild(honeypot);
    form.appendChild(trap);
    var msg = el("div", { id: "msg", class: "msg", role: "status", "aria-live": "polite" });
    box.appendChild(form);
    box.appendChild(msg);
    root.appendChild(style);
    root.appendChild(box);

    var born = Date.now(), min = 2000, human = null;
    names(lang, slugs)
      .then(function (found) {
        var cfg = found._config || {};
        if (cfg.min_seconds >= 0) min = cfg.min_seconds * 1000;
        if (!checked(found, cfg.unknown || [])) return;
        if (cfg.origin_allowed === false) return elsewhere();
        if (cfg.captcha) captcha(cfg.captcha);
        boxes.forEach(function (b) {
          if (found[b.value]) b.nextSibling.textContent = found[b.value].name;
        });
      })
      .catch(function () {});

    function checked(found, unknown) {  // leave out slugs that name no newsletter; false: no box left
      if (!unknown.length) return true;
      console.error(PREFIX + "no newsletter is called " + unknown.map(function (s) { return '"' + s + '"'; }).join(", ") +
        " (or it is archived and takes no signups), so the box leaves it out; check data-newsletters on " +
        '<script src="' + script.src + '">. ' + listed(found));
      slugs = slugs.filter(function (s) { return unknown.indexOf(s) < 0; });
      boxes = boxes.filter(function (b) {
        if (unknown.indexOf(b.value) < 0) return true;
        b.parentNode.remove();
        return false;
      });
      if (slugs.length) return true;
      host.remove();
      return false;
    }

    function elsewhere() {  // this page may not sign readers up: say so, and where they can
      console.error(PREFIX + "this page's origin, " + location.origin + ", may not sign readers up to " +
        slugs.join(", ") + ", so the box shows a link to " + ORIGIN + "/subscribe instead of a form. " +
        "Add the origin to ALLOWED_ORIGINS on the service, or to each newsletter's allowed origins: " +
        "newsletter newsletters update " + slugs[0] + " --allowed-origin " + location.origin +
        " (the option replaces the list: repeat it for the origins `newsletter newsletters list` shows).");
      form.hidden = true;
      state("unavailable");
      var link = el("a", { href: ORIGIN + "/subscribe", class: "elsewhere" }, T.subscribe);
      say(T.elsewhere, false, link);
    }

    function captcha(c) {
      var spot = el("div");
      host.appendChild(spot);
      form.insertBefore(el("slot"), trap);
      var all = window.__newsletterCaptcha = window.__newsletterCaptcha || {};
      all[c.script] = all[c.script] || new Promise(function (ok, fail) {
        var tag = el("script", { src: c.script + "?render=explicit", async: "" });
        tag.onload = ok;
        tag.onerror = fail;
        document.head.appendChild(tag);
      });
      all[c.script].then(function () {
        var api = window[c.provider === "turnstile" ? "turnstile" : "hcaptcha"];
        human = { api: api, field: c.field, id: api.render(spot, { sitekey: c.site_key, theme: dark ? "dark" : "light" }) };
      }, function () {});
    }

    function state(name) {
      box.setAttribute("data-state", name);
      form.setAttribute("aria-busy", String(name === "submitting" || name === "waiting"));
      button.disabled = name === "submitting" || name === "waiting";
    }

    function say(text, isError, extra) {
      msg.textContent = "";
      msg.className = "msg";
      if (text) msg.appendChild(el("span", { class: isError ? "err" : "" }, text));
      if (extra) msg.appendChild(extra);
    }

    function invalid(text, suggestion, data) {
      state(suggestion ? "suggestion" : "invalid");
      input.setAttribute("aria-invalid", "true");
      var fixes = null;
      if (suggestion) {
        fixes = el("div", { class: "fixes" });
        var fix = el("button", { type: "button", class: "link fix" }, T.mean.replace("{s}", suggestion));
        fix.addEventListener("click", function () {
          input.value = suggestion;
          input.removeAttribute("aria-invalid");
          say("");
          state("idle");
          input.focus();
        });
        fixes.appendChild(fix);
        if (data && !data.confirm_address) {  // the reader may know better: post it as typed
          var keep = el("button", { type: "button", class: "link anyway" }, T.anyway.replace("{s}", data.email));
          keep.addEventListener("click", function () {
            input.removeAttribute("aria-invalid");
            data.confirm_address = true;
            state("submitting");
            say(T.sending);
            post(data);
          });
          fixes.appendChild(keep);
        }
      }
      say(text, true, fixes);
      input.focus();
    }

    function send() {
      var email = input.value.replace(/^[ \t]+|[ \t]+$/g, "");
      var chosen = boxes.length ? boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }) : slugs;
      if (!email) return invalid(T.required);
      if (!chosen.length) { state("invalid"); say(T.none, true); boxes[0].focus(); return; }
      state("submitting");
      say(T.sending);
      post({
        email: email, newsletters: chosen, locale: lang, website: honeypot.value,
        form: ds.form || "embed", source_url: ds.sourceUrl || location.href,
      });
    }

    function post(data, tries) {
      tries = tries || 0;
      var elapsed = Date.now() - born;
      if (elapsed < min) return setTimeout(post, min - elapsed, data, tries);
      data.elapsed_ms = elapsed;
      if (human) data[human.field] = human.api.getResponse(human.id);
      fetch(API, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(data),
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          var text = body.message;
          if (human && response.status !== 202) human.api.reset(human.id);
          if (response.status === 202) {
            state("success");
            form.hidden = true;
            say(text || T.done);
            msg.className = "msg done";
            msg.setAttribute("tabindex", "-1");
            msg.focus();
          } else if (response.status === 503 && tries < RETRIES) {
            var wait = Math.min(120, Math.max(1, parseInt(response.headers.get("Retry-After"), 10) || 30));
            state("waiting");
            say((text || T.error) + " " + T.waiting.replace("{n}", wait), true);
            setTimeout(post, wait * 1000, data, tries + 1);
          } else if (response.status === 429) {
            state("rate-limited");
            say(text || T.limited, true);
          } else if (body.field === "email") {
            invalid(text || T.invalid, body.suggestion, data);
          } else {
            state("error");
            say(text || T.error, true);
          }
        });
      }, function () {
        state("network-error");
        var again = el("button", { type: "button", class: "again" }, T.retry);
        again.addEventListener("click", send);
        say(T.network, true, again);
        again.focus();
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!button.disabled) send();
    });
    input.addEventListener("input", function () {
      if (input.getAttribute("aria-invalid")) { input.removeAttribute("aria-invalid"); }
    });
    state("idle");
  }

  mount(script);
})();
