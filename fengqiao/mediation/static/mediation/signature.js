// A drawn signature: pointer strokes on a canvas, sent as a PNG data URL in a hidden field.
(function () {
  "use strict";
  var canvas = document.getElementById("sig-pad");
  var field = document.getElementById("id_signature_image");
  if (!canvas || !field || !canvas.getContext) { return; }
  var ctx = canvas.getContext("2d");
  var drawing = false, drawn = false;
  ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * canvas.width / rect.width, (event.clientY - rect.top) * canvas.height / rect.height];
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true; canvas.setPointerCapture(event.pointerId);
    var p = point(event); ctx.beginPath(); ctx.moveTo(p[0], p[1]);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event); ctx.lineTo(p[0], p[1]); ctx.stroke(); drawn = true;
  });
  function stop() { if (drawing) { drawing = false; if (drawn) { field.value = canvas.toDataURL("image/png"); } } }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  var clear = document.getElementById("sig-clear");
  if (clear) {
    clear.addEventListener("click", function () { ctx.clearRect(0, 0, canvas.width, canvas.height); field.value = ""; drawn = false; });
  }
})();
