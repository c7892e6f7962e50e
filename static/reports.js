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

/* The period picker: editing a date switches the preset to "Custom", and choosing a
   preset submits at once. Without this script, pick "Custom" and press Apply. */
(function () {
  'use strict';
  document.querySelectorAll('form.rp-period').forEach(function (form) {
    var preset = form.querySelector('select[name="preset"]');
    if (!preset) return;
    form.querySelectorAll('input[type="date"]').forEach(function (input) {
      input.addEventListener('change', function () { preset.value = 'custom'; });
    });
    preset.addEventListener('change', function () {
      if (preset.value !== 'custom') form.submit();
    });
    var compare = form.querySelector('select[name="compare"]');
    if (compare) compare.addEventListener('change', function () { form.submit(); });
  });
})();
