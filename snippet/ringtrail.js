// Ringtrail snippet, contract v1: shows each visitor a tracking number in place of the
// site's business numbers. Docs: docs/site-owners.md.
//
// The v1 contract is frozen: the global ringtrail(), the data-* options, and the calls to
// POST /v1/sessions and /v1/sessions/ID/pageviews. A breaking change ships as a new,
// versioned file; this one is never changed in place.
//
// Rules: never throw into the page, never use innerHTML, and leave the business number
// wherever anything goes wrong. The syntax is ES5 (the server's minifier reads ES5);
// browsers without fetch and AbortController (before 2018) keep the business number.
(function (w, d) {
  'use strict';
  // Baked in by the server: k site key, n business numbers (E.164), a API base URL.
  // (The server alone applies the site's consent mode and Do-Not-Track setting.)
  var C = /*CONFIG*/{"k": "", "n": [], "a": ""}/*END*/,
    // Never swapped, nor anything inside them. (Template content is not in the document.)
    NO = '[data-ringtrail-noswap],script,style,textarea,select,input',
    // Inline elements: a number split across them is still one number.
    INLINE = /^(A|B|I|EM|SPAN|STRONG|SMALL)$/,
    // What may separate the digits of a phone number: spaces (no-break too), . / ( ) and
    // every dash, U+2010 to U+2015 and U+2212.
    SEP = '[\\s./()\\u2010-\\u2015\\u2212-]{0,2}',
    root = d.documentElement,
    loc = location,
    last = loc.href,
    key = 'ringtrail',
    // The visit's state changes (new session, consent) make older answers stale.
    gen = 0,
    active = 1,
    // want: business number -> number to show. from: every number that may be on the
    // page (business numbers, and whatever was shown for them) -> its business number.
    want = {},
    from = {},
    hidden = [],
    // by: national digits of each number in from -> digits of what it should show.
    by, re, ds, debug, api, cookie, consent, session, started, stored, mo, timer;

  function warn(e) {
    if (debug) console.warn('ringtrail: ' + e);
  }

  // f, but whatever it throws is kept from the page.
  function safe(f) {
    return function (a, b) {
      try {
        f(a, b);
      } catch (e) {
        warn(e);
      }
    };
  }

  function digits(s) {
    return s.replace(/\D/g, '');
  }

  // National digits: a North American number without its leading 1.
  function nat(e) {
    return digits(e).replace(/^1(?=\d{10}$)/, '');
  }

  // s with each number swapped digit for digit, so that every occurrence keeps its own
  // format; but never one inside a longer string of digits.
  function sub(s) {
    return s.replace(re, function (m, before, n) {
      var t = by[nat(n)].slice(-digits(n).length),
        i = 0;
      return before + n.replace(/\d/g, function () {
        return t[i++];
      });
    });
  }

  // The nearest ancestor that is not an inline element.
  function block(n) {
    while ((n = n.parentNode) && INLINE.test(n.nodeName));
    return n;
  }

  // Swap the numbers in text, title attributes and tel: links under el; with mark, only
  // call mark with each element whose text holds a number.
  function swap(el, mark) {
    var walk = d.createTreeWalker(el, 4),
      run = [],
      s = '',
      n, b;
    // A run of adjacent text nodes in one block is swapped as one string, then each node
    // gets its own slice back (swapping keeps the length).
    function flush(r, i) {
      r = sub(s);
      i = 0;
      run.forEach(function (t, v) {
        v = r.slice(i, i += t.data.length);
        if (mark) s.search(re) < 0 || mark(t.parentNode);
        else if (v != t.data) t.data = v;
      });
      run = [];
      s = '';
    }
    while ((n = walk.nextNode())) {
      if (!n.parentNode.closest(NO)) {
        if (b != (b = block(n))) flush();
        run.push(n);
        s += n.data;
      }
    }
    flush();
    mark || el.querySelectorAll('[title],[href^="tel:"]').forEach(function (e) {
      ['title', 'href'].forEach(function (a, v) {
        v = e.getAttribute(a) || '';
        if ((a > 'i' || /^tel:/.test(v)) && sub(v) != v && !e.closest(NO)) e.setAttribute(a, sub(v));
      });
    });
  }

  // Undo the anti-flicker hiding.
  function reveal() {
    hidden.splice(0).forEach(function (e) {
      e.style.opacity = '';
    });
  }

  // Show what the server says for each business number, or else the business number.
  // The matcher: for each number that may be on the page, its national digits with
  // separators between them, after an optional +1 or 1 and an optional ( before the
  // area code, and with no digit right before or after.
  function use(n, init) {
    C.n.forEach(function (b, t) {
      // Only digits are ever copied from t, and only as many as b has.
      t = n && n[b] && n[b].e164;
      want[b] = t = t && digits(t).length == digits(b).length ? t : b;
      from[t] = b;
    });
    by = {};
    re = new RegExp('(^|\\D)(' + Object.keys(from).map(function (e) {
      by[nat(e)] = digits(want[from[e]]);
      return '(?:\\+?1' + SEP + ')?\\(?' + nat(e).split('').join(SEP);
    }).join('|') + ')(?!\\d)', 'g');
    // The first call only builds the matcher: nothing to show yet.
    if (init) return;
    swap(root);
    reveal();
    mo.observe(root, {childList: 1, subtree: 1, characterData: 1});
  }

  // Store the answer a; with no a, forget it. Only a visit with a session is stored:
  // with GPC, DNT, or no consent, the server gives none. (An expired session is
  // replaced when the server says it does not know it.)
  function save(a) {
    var v = a ? encodeURIComponent(JSON.stringify(a)) : '';
    try {
      if (cookie) d.cookie = key + '=' + v + ';path=/;max-age=' + (a ? a.ttl : 0);
      else if (a) sessionStorage[key] = v;
      else sessionStorage.removeItem(key);
    } catch (e) {}
  }

  // POST a text/plain JSON body (no CORS preflight), giving up after 2 s. An answer
  // {session, numbers, ttl} is dropped if the visit changed meanwhile. A session the
  // server no longer knows is replaced by a new one.
  function post(path, b) {
    var g = gen,
      c = new AbortController();
    setTimeout(c.abort.bind(c), 2e3);
    b.site = C.k;
    b.url = loc.href;
    b.title = d.title;
    fetch(api + '/v1/sessions' + path, {method: 'POST', body: JSON.stringify(b), signal: c.signal}).then(function (r) {
      if (!r.ok) throw r.status;
      return r.json();
    }).then(function (a) {
      if (g == gen) got(a);
    }).catch(safe(function (e) {
      warn(e);
      reveal();
      if (e == 404 && path) restart();
    }));
  }

  // An answer {session, numbers, ttl}, from the server or from storage.
  function got(a) {
    session = /^[\w-]{16,}$/.test(a.session) && a.session;
    if (session) save(a);
    use(a.numbers);
  }

  function page(b) {
    if (session) post('/' + session + '/pageviews', b || {});
  }

  // Start a visit: the server leases numbers unless the visitor is not to be tracked
  // (GPC, DNT if the site honours it, no consent where consent is required; browsers
  // send Sec-GPC and DNT headers themselves). A visitor who refused consent sees the
  // business numbers.
  function ask() {
    gen++;
    if (consent === false) use();
    else post('', {referrer: d.referrer, gpc: !!navigator.globalPrivacyControl, consent: !!consent});
  }

  function restart() {
    session = 0;
    save();
    ask();
  }

  function start() {
    if (!started) {
      started = 1;
      if (stored) {
        got(stored);
        page();
      } else {
        // Anti-flicker: hide the numbers until the answer, for 500 ms at most.
        if ('hide' in ds) {
          swap(root, function (e) {
            if (!e.style.opacity) {
              hidden.push(e);
              e.style.opacity = 0;
            }
          });
          setTimeout(safe(reveal), 500);
        }
        ask();
      }
    }
  }

  // A route change in a single-page app: record a page view and swap again.
  function moved() {
    if (loc.href != last) {
      last = loc.href;
      setTimeout(safe(page), 100);
    }
  }

  try {
    if (!C.n[0] || (w.ringtrail || {}).rt) return;
    ds = (d.currentScript || root).dataset;
    debug = 'debug' in ds;
    api = ds.api || C.a;
    cookie = ds.storage == 'cookie';
    // Content added or changed later is swapped 50 ms after the first change. (Our own
    // edits cost one more pass, which finds nothing to do.)
    mo = new MutationObserver(function () {
      timer = timer || setTimeout(safe(function () {
        timer = 0;
        swap(root);
      }), 50);
    });
    use(0, 1);
    // The answer stored for this visit.
    try {
      stored = JSON.parse(decodeURIComponent(cookie ? (d.cookie.match(key + '=([^;]+)') || [])[1] : sessionStorage[key]));
    } catch (e) {}
    // The JavaScript API: ringtrail('swap'), ringtrail('consent', true|false). Calls
    // made before the snippet loaded wait in ringtrail.q (the queue stub).
    var queue = (w.ringtrail || {}).q || [];
    w.ringtrail = safe(function (cmd, v) {
      if (cmd == 'swap') swap(root);
      if (cmd == 'consent') {
        consent = !!v;
        if (started && !(v && session)) restart();
      }
    });
    w.ringtrail.rt = 1;
    queue.forEach(function (a) {
      w.ringtrail(a[0], a[1]);
    });
    // A visitor who refused consent is forgotten.
    if (consent === false) stored = save();
    ['pushState', 'replaceState'].forEach(function (k, f) {
      f = history[k];
      history[k] = function () {
        f.apply(this, arguments);
        safe(moved)();
      };
    });
    w.addEventListener('popstate', safe(moved));
    // Activity keeps the lease alive; a click or a key press is also intent.
    ['pointerdown', 'keydown', 'scroll'].forEach(function (k) {
      w.addEventListener(k, safe(function (e) {
        active = 1;
        if (e.type != 'scroll') start();
      }), true);
    });
    setInterval(safe(function () {
      if (active && !d.hidden) page({heartbeat: true});
      active = 0;
    }), 6e4);
    // On-intent leasing: wait until a number is on screen, or the visitor does something.
    if ('intent' in ds && !stored) {
      var io = new IntersectionObserver(safe(function (es) {
        es.forEach(function (e) {
          if (e.isIntersecting) start();
        });
      }));
      swap(root, io.observe.bind(io));
    } else {
      start();
    }
  } catch (e) {
    warn(e);
  }
})(window, document);
