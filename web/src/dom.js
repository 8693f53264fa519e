// A few DOM helpers, so the panels read as what they show.

export function byId(id) {
  return document.getElementById(id);
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function swatch(color) {
  const node = element("span", { class: "swatch", "data-testid": "swatch" });
  if (color) {
    node.style.background = `rgb(${color[0]}, ${color[1]}, ${color[2]})`;
    node.dataset.color = color.join(",");
  } else {
    node.classList.add("swatch-none");
  }
  return node;
}
