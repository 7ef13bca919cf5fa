// Adds a "select all" box above the leads page's checkboxes. The page works the same without it.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.replay");
  if (!form) return;
  var boxes = form.querySelectorAll("input[name=lead_ids]");
  if (!boxes.length) return;
  var label = document.createElement("label");
  var all = document.createElement("input");
  all.type = "checkbox";
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
  label.append(all, " Select every failed and dead lead on this page");
  form.insertBefore(label, form.querySelector("table"));
});
