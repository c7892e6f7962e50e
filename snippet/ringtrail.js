// Ringtrail snippet, contract v1: shows each visitor a tracking number in place of the
// site's business numbers. Docs: docs/site-owners.md.
//
// The v1 contract is frozen: the global ringtrail(), the data-* options, and the calls to
// POST /v1/sessions and /v1/sessions/ID/pageviews. A breaking change ships as a new,
// versioned file; this one is never changed in place.
//
// Rules: never throw into the page, never use innerHTML, and leave the business number
// wherever anything goes wrong. The syntax is ES5 (the server's minifier reads ES5);
// browsers without fetch and AbortSignal (before 2018) keep the business number.
// Spare function parameters stand in for var declarations: they minify shorter. The
// functions stand in the order that compresses smallest (declarations are hoisted):
// python bench/snippet_order.py finds it again after a change. No 'use strict': the
// 12 bytes it costs bought nothing that tests/tracking/test_snippet.py does not check
// (every name assigned is declared).
// w is the window, d the document, ds the script element's data-* options (the names
// that tests/test_snippet.py checks the v1 contract by).
(function (w, d) {
  // Baked in by the server: k site key, n business numbers (E.164), a API base URL; for a
  // site with numbers outside North America, f: [the country codes of its numbers, their
  // trunk prefixes], each as alternatives (["1|44|49", "0"]);
  // for a site with vanity texts, v: text -> business number;
  // for a site that shares the visit across subdomains, c: its registrable domains.
  // (The server alone applies the site's consent mode and Do-Not-Track setting.)
  var config = /*CONFIG*/{"k": "", "n": [], "a": ""}/*END*/,
    // Never swapped, nor anything inside them. (Template content is not in the document.)
    NO_SWAP = '[data-ringtrail-noswap],script,style,textarea,select,input',
    // Attributes swapped like text (href: tel: links only).
    ATTRIBUTES = ['href', 'title', 'aria-label', 'aria-description'],
    // The tags of inline elements: a number split across them is still one number.
    INLINE = /^([ABI]|EM|S(PAN|TRONG|MALL))$/,
    // What may separate the digits of a phone number: up to four characters that are not
    // a letter, a digit, _ or , : ; (which list digits): spaces (no-break too), . / ( ),
    // every dash, a middle dot, a bar: "(714) - 225 - 1326", "415·555·0100".
    SEPARATOR = '[^\\w,:;]{0,4}',
    root = d.documentElement,
    lastHref = location.href,
    storageKey = 'ringtrail',
    active = 1,
    // showFor: business number -> what to show for it: the answer's {e164, display,
    // international} of its number, or {e164: the business number}.
    // businessFor: every number that may be on the page (business numbers, and whatever
    // was shown for them) -> its business number.
    showFor = {},
    businessFor = {},
    hiddenElements = [],
    // digitsFor: the national digits of each number in businessFor (after its country
    // code) -> those of the number it should show; or, for a number of another length,
    // what showFor has for its business number.
    // refused: undefined until the page says; then whether the visitor refused consent
    // (so refused == 0 only once they consented).
    digitsFor, matcher, ds, debug, apiBase, useCookie, refused, session, started,
    storedAnswer, observer, swapTimer, channel, current;

/*IF:subdomains*/
  var cookieDomain = '';
/*FI*/

  // National digits: a number's digits after its country code.
/*IF:nanp*/
  // (North America: the last ten.)
  function national(number) {
    return digits(number).slice(-10);
  }
  function digits(text) {
    return text.replace(/\D/g, '');
  }
/*FI*/
/*IF:intl*/
  // (Country codes are prefix-free: one of the site's matches at most. The international
  // block has no digits(): written out, its two uses compress smaller.)
  function national(number) {
    return number.replace(/\D/g, '').replace(RegExp('^(' + config.f[0] + ')'), '');
  }
/*FI*/

  // text with each number swapped digit for digit (after its country code and trunk
  // prefix, which stay as written), so that every occurrence keeps its own format; but
  // never one inside a longer string of digits. A number of another length takes its own
  // display, international where the page wrote a country code, else national; in a
  // tel: link, its E.164. (A + before the number is kept in before.)
  function swapNumbers(text) {
    return text.replace(matcher, function (match, before, /*IF:intl*/code, /*FI*/number) {
/*IF:vanity*/
      // A vanity text shows the display of the number leased for its business number;
      // after a digit (a country code, a trunk prefix), it is not the text.
      if (config.v[number]) return /\d/.test(before = match.slice(0, -number.length)) ? match : before + (showFor[config.v[number]].display || number);
/*FI*/
/*IF:nanp*/
      var shown = digitsFor[national(number)].slice(-digits(number).length),
        next = 0;
      return before + number.replace(/\d/g, function () {
        return shown[next++];
      });
/*FI*/
/*IF:intl*/
      var shown = digitsFor[number.replace(/\D/g, '')],
        next = 0;
      return shown.e164 ? before + (shown[/^tel:/.test(text) ? 'e164' : code ? 'international' : 'display'] || shown.e164).slice(before == '+') : match.slice(0, -number.length) + number.replace(/\d/g, function () {
        return shown[next++];
      });
/*FI*/
    });
  }

  // Undo the anti-flicker hiding.
  function reveal() {
    hiddenElements.splice(0).forEach(function (element) {
      element.style.opacity = '';
    });
  }

  // Swap the numbers in the page's text, its title and aria-label/-description attributes
  // and its tel: links; with mark, only call mark with each element whose text holds a
  // number.
  function swap(mark) {
    var walker = d.createTreeWalker(root, 4),
      run = [],
      runText = '',
      node, runBlock, block;
    // A run of adjacent text nodes in one block is swapped as one string, then each node
    // gets its own slice back (a swap digit for digit keeps the length; else each node is
    // swapped on its own). Most runs hold no number and cost one search; only a run with
    // a number is looked at closer, without the nodes that are never swapped.
    function flush(swapped, offset) {
      if (matcher.test(runText)) {
        swapped = swapNumbers(runText);
        offset = 0;
        run.forEach(function (textNode, slice) {
          slice = swapped.slice(offset, offset += textNode.data.length);
/*IF:intl*/
          if (swapped.length != runText.length) slice = swapNumbers(textNode.data);
/*FI*/
/*IF:vanity*/
          if (swapped.length != runText.length) slice = swapNumbers(textNode.data);
/*FI*/
          textNode.parentNode.closest(NO_SWAP) || (mark ? mark(textNode.parentNode) : slice != textNode.data && (textNode.data = slice));
        });
      }
      run = [];
      runText = '';
    }
    while (node = walker.nextNode()) {
      // A run is the text of one block: the nearest ancestor that is not inline. (The
      // pass over a 5,000-node page took 9 ms with closest(), most of it in closest().)
      block = node;
      while (INLINE.test((block = block.parentNode).tagName));
      runBlock != (runBlock = block) && flush();
      run.push(node);
      runText += node.data;
    }
    flush();
    // (href^=tel is wide, "telegram.html" too: the test below keeps only tel: links.)
    mark || ATTRIBUTES.forEach(function (attribute, other) {
      root.querySelectorAll('[' + attribute + ']').forEach(function (element, value) {
        value = element.getAttribute(attribute);
        (other || /^tel:/.test(value)) && swapNumbers(value) != value && !element.closest(NO_SWAP) && element.setAttribute(attribute, swapNumbers(value));
      });
    });
  }

  // An answer {session, numbers, ttl}, from the server or from storage.
  // With view, this is also a page view.
  function got(answer, view) {
    (session = /^[\w-]{16,}$/.test(answer.session) && answer.session) && save(current = answer);
    use(answer.numbers);
    view && page();
  }

  // Show what the server says for each business number, or else the business number.
  // The matcher: an optional country code (after + or 00) and trunk prefix of the site's
  // numbers, then the digits after the country code of a number that may be on the page,
  // with separators between them and no digit right before or after.
  function use(numbers, init) {
    config.n.forEach(function (business, shown) {
      // The North American block copies only digits, as many as business has: it shows
      // only a North American number (another, which only a change of the site's numbers
      // can bring, is not shown). The international block shows a number of another
      // length by its displays, which every answer has.
      shown = numbers && numbers[business] || 0;
      showFor[business] = shown = /*IF:nanp*//^\+1\d{10}$/.test(shown.e164) && /*FI*//*IF:intl*/shown.international && /*FI*/shown.e164 ? shown : {e164: business};
      businessFor[shown.e164] = business;
    });
    digitsFor = {};
    matcher = RegExp(/*IF:nanp*/'(^|\\D)(' + /*FI*//*IF:intl*/'(^|\\D)(?:(?:00)?(' + config.f[0] + ')' + SEPARATOR + ')?(?:' + config.f[1] + ')?' + SEPARATOR + '(' + /*FI*/Object.keys(businessFor).map(function (number/*IF:intl*/, shown, wanted/*FI*/) {
/*IF:nanp*/
      digitsFor[national(number)] = digits(showFor[businessFor[number]].e164);
      return '(?:1' + SEPARATOR + ')?' + national(number).split('').join(SEPARATOR);
/*FI*/
/*IF:intl*/
      // (A number of another length takes the displays the answer gave; where it gave
      // none, as when a withdrawn consent brings the business numbers back, the business
      // number's E.164.)
      shown = showFor[businessFor[number]];
      wanted = national(shown.e164);
      digitsFor[number = national(number)] = wanted.length != number.length ? shown : wanted;
      return number.split('').join(SEPARATOR);
/*FI*/
    })/*IF:vanity*/.concat(Object.keys(config.v).map(function (text) {
      // (the whole text only: no letter or digit right after it)
      return text.replace(/\W/g, '\\$&') + '(?!\\w)';
    }))/*FI*/.join('|') + ')(?!\\d)', 'g');
    // The first call only builds the matcher: nothing to show yet.
    init || later();
  }

  // POST a text/plain JSON body (no CORS preflight), giving up after 2 s (browsers from
  // before 2022, without AbortSignal.timeout, wait longer). An answer
  // {session, numbers, ttl} is dropped once the visitor refused consent. A session the
  // server no longer knows is replaced by a new one.
  function post(path, body) {
    body.site = config.k;
    body.url = location.href;
    body.title = d.title;
    fetch(apiBase + '/v1/sessions' + path, {method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout && AbortSignal.timeout(2e3)}).then(function (response) {
      if (response.ok) return response.json();
      throw response.status;
    }).then(function (answer) {
      refused || got(answer);
    }).catch(safe(function (error) {
      warn(error);
      reveal();
      error == 404 && path && restart();
    }));
  }

  function restart() {
    session = 0;
    save();
    ask(1);
  }

  // Start a visit: the server leases numbers unless the visitor is not to be tracked
  // (GPC, DNT if the site honours it, no consent where consent is required; browsers
  // send Sec-GPC and DNT headers themselves). A visitor who refused consent sees the
  // business numbers.
  // Another open tab of this site may hold the visit: ask it first, and wait 200 ms (the
  // anti-flicker hiding lasts 500). Not after a 404: the other tabs hold the same
  // expired session.
  function ask(again) {
    if (refused) use();
    else {
      again || channel && channel.postMessage(0);
      setTimeout(safe(function () {
        session || refused || post('', {referrer: d.referrer, gpc: !!navigator.globalPrivacyControl, consent: refused == 0/*IF:ga4*/, ga: refused == 0 && !navigator.globalPrivacyControl && d.cookie.match(/_ga[^;]+/g)/*FI*/});
      }), 200);
    }
  }

  function start() {
    if (!started) {
      started = 1;
      if (storedAnswer) got(storedAnswer, 1);
      else {
        // Anti-flicker: hide the numbers until the answer, for 500 ms at most.
        if ('hide' in ds) {
          swap(function (element) {
            element.style.opacity || hiddenElements.push(element) && (element.style.opacity = 0);
          });
          setTimeout(reveal, 500);
        }
        ask();
      }
    }
  }

  // fn, but whatever it throws is kept from the page.
  function safe(fn) {
    return function (first, second) {
      try {
        fn(first, second);
      } catch (error) {
        warn(error);
      }
    };
  }

  function warn(problem) {
    debug && console.warn(storageKey, problem);
  }

  function page(body) {
    if (session) post('/' + session + '/pageviews', body || {});
  }

  // Store the answer; with no answer, forget it. Only a visit with a session is stored:
  // with GPC, DNT, or no consent, the server gives none. (An expired session is
  // replaced when the server says it does not know it.)
  function save(answer) {
    var value = answer ? encodeURIComponent(JSON.stringify(answer)) : '';
    try {
      useCookie ? d.cookie = storageKey + '=' + value + ';path=/;max-age=' + (answer ? answer.ttl : 0) /*IF:subdomains*/ + cookieDomain /*FI*/ : answer ? sessionStorage[storageKey] = value : delete sessionStorage[storageKey];
    } catch (error) {}
  }

  // Swap, show what was hidden, and watch for content added or changed later: the next
  // change is swapped the same way. (Our own edits cost one more pass, which finds
  // nothing to do.) Hydration-safe: this runs 50 ms after the page has loaded
  // (readyState complete), so that a framework that hydrates the page's server HTML has
  // done so and finds the HTML it rendered. (Until then, data-hide hides the numbers, for
  // 500 ms at most.)
  function later() {
    swapTimer = swapTimer || setTimeout(safe(function () {
      swapTimer = 0;
      if (d.readyState < 'i') {
        swap();
        reveal();
        observer.observe(root, {childList: 1, subtree: 1, characterData: 1});
      } else later();
    }), 50);
  }

  safe(function () {
    // Everything here runs in safe(): what it throws is kept from the page.
    // What the page holds as ringtrail before us: the queue stub, or another copy of us.
    var before = w.ringtrail || {};
    if (before.rt) return;
    ds = (d.currentScript || root).dataset;
    debug = 'debug' in ds;
    apiBase = ds.api || config.a;
    useCookie = ds.storage == 'cookie';
/*IF:subdomains*/
    // The visit spans the site's subdomains: stored (as ever, only once the server gave
    // a session) in a cookie on the registrable domain this page is on.
    config.c.forEach(function (domain) {
      if (('.' + location.hostname).slice(-domain.length - 1) == '.' + domain) useCookie = cookieDomain = ';domain=' + domain;
    });
/*FI*/
    observer = new MutationObserver(later);
    use(0, 1);
    // The answer stored for this visit.
    try {
      storedAnswer = JSON.parse(decodeURIComponent(useCookie ? d.cookie.match(storageKey + '=([^;]+)')[1] : sessionStorage[storageKey]));
    } catch (error) {}
    // Tabs of this site in this browser share one visit, with nothing stored: a tab with
    // a visit answers a tab that asks (0) with it.
    try {
      channel = new BroadcastChannel(storageKey);
      channel.onmessage = safe(function (message) {
        message = message.data;
        message ? session || refused || got(message, 1) : session && channel.postMessage(current);
      });
    } catch (error) {}
    // The JavaScript API: ringtrail('swap'), ringtrail('consent', true|false). Calls
    // made before the snippet loaded wait in ringtrail.q (the queue stub).
    var api = w.ringtrail = safe(function (command, value) {
      if (command == 'swap') swap();
      if (command == 'consent') {
        refused = !value;
        started && !(value && session) && restart();
      }
    });
    api.rt = 1;
    (before.q || []).forEach(function (call) {
      api.apply(0, call);
    });
    // A visitor who refused consent is forgotten.
    if (refused) storedAnswer = save();
    // A route change in a single-page app (pushState, replaceState, back) is a page view,
    // seen within half a second: looking costs less than wrapping the History API, and
    // the page has set its title by then. (The MutationObserver swaps the new content.)
    setInterval(safe(function () {
      if (lastHref != (lastHref = location.href)) page();
    }), 500);
    // Activity keeps the lease alive; a click or a key press is also intent. A page
    // restored from the back/forward cache (a pageshow, persisted) re-checks its lease
    // with a page view: renewed, or replaced by a new visit if it ended (a 404).
    ['scroll', 'pageshow', 'pointerdown', 'keydown'].forEach(function (type, intent) {
      w.addEventListener(type, safe(function (event) {
        active = 1;
        event.persisted ? page() : intent > 1 && start();
      }), 1); // 1: capture, so a page that stops propagation hides nothing
    });
    setInterval(safe(function () {
      if (active && !d.hidden) page({heartbeat: 1}); // 1 or true: the server takes either
      active = 0;
    }), 6e4);
    // On-intent leasing: wait until a number is on screen, or the visitor does something.
    if ('intent' in ds && !storedAnswer) {
      var onScreen = new IntersectionObserver(safe(function (entries) {
        entries.forEach(function (entry) {
          entry.isIntersecting && start();
        });
      }));
      swap(function (element) {
        onScreen.observe(element);
      });
    } else start();
  })();
})(window, document);
