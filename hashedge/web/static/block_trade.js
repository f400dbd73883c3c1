// The block trade form: shows the OTC band of the chosen instrument (from its option's data
// attributes, computed by the server from the latest mark) and whether the typed price is inside.
(function () {
  const select = document.getElementById("instrument");
  const price = document.getElementById("price");
  const band = document.getElementById("otc-band");
  const check = document.getElementById("price-check");
  if (!select || !band) return;
  const show = (name, text) => { band.querySelector(`[data-band="${name}"]`).textContent = text; };
  function update() {
    const option = select.options[select.selectedIndex];
    const low = option ? option.dataset.low : undefined;
    const high = option ? option.dataset.high : undefined;
    show("mark", option && option.dataset.mark ? option.dataset.mark : "no mark");
    show("low", low || "—");
    show("high", high || "—");
    check.textContent = "";
    check.className = "hint";
    const typed = price.value.trim();
    if (!typed || !low || !high || isNaN(Number(typed))) return;
    const inside = Number(low) <= Number(typed) && Number(typed) <= Number(high);
    check.textContent = inside ? "inside the OTC band" : `outside the OTC band ${low} to ${high}: booking will be refused`;
    check.className = inside ? "hint good" : "hint bad";
  }
  select.addEventListener("change", update);
  price.addEventListener("input", update);
  update();
  document.body.dataset.bandReady = "1";
})();
