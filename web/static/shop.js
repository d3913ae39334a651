// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add("js");
document.querySelectorAll("form.currency select").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
