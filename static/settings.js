/* Settings pages: "choose all" and a live count for the pool's bulk actions, and the
   "Set the source label" field shown only when it is the chosen action. The form works
   without it (the server refuses an empty choice with a reason). */
(function () {
  'use strict';
  var form = document.getElementById('bulk-form');
  if (!form) return;
  var all = document.getElementById('choose-all');
  var count = document.getElementById('bulk-count');
  var action = document.getElementById('bulk-action');
  var source = form.querySelector('input[name="source"]');
  var boxes = function () { return form.querySelectorAll('input.choose'); };
  var update = function () {
    var chosen = form.querySelectorAll('input.choose:checked').length;
    if (count) count.textContent = String(chosen);
    if (all) {
      all.checked = chosen > 0 && chosen === boxes().length;
      all.indeterminate = chosen > 0 && chosen < boxes().length;
    }
  };
  var showSource = function () {
    if (source && action) source.closest('label').hidden = action.value !== 'source';
  };
  if (all) {
    all.addEventListener('change', function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  form.addEventListener('change', function (event) {
    if (event.target.classList.contains('choose')) update();
    if (event.target === action) showSource();
  });
  form.addEventListener('submit', function (event) {
    var what = action && action.value;
    if ((what === 'remove' || what === 'release') &&
        !window.confirm(what === 'release'
          ? 'Give the chosen numbers back to Twilio? This cannot be undone.'
          : 'Remove the chosen numbers from this pool?')) {
      event.preventDefault();
    }
  });
  update();
  showSource();
})();
