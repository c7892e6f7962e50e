/* Report pages: "Copy" buttons for the embed snippet. The pages work without it. */
(function () {
  'use strict';
  document.querySelectorAll('[data-copy]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    if (!field) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      field.select();
      var done = function () {
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = 'Copy'; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      } else {
        try { if (document.execCommand('copy')) done(); } catch (e) { /* selected: Ctrl+C works */ }
      }
    });
  });
})();
