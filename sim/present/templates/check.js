window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('figure img');
  var ok = 0;
  imgs.forEach(function (im) { if (im.complete && im.naturalWidth > 0) { ok += 1; } });
  document.body.setAttribute('data-figures', String(imgs.length));
  document.body.setAttribute('data-figures-rendered', String(ok));
  document.body.setAttribute('data-tables', String(document.querySelectorAll('table').length));
});
