// The map: a job's rasters as Web Mercator tiles (imagery below, classes above, each with its
// opacity and a legend) and its feature layers as vectors coloured by class, with the class
// and confidence of the feature under the pointer. No basemap: nothing is fetched from
// anywhere but this server.

import GeoJSON from "ol/format/GeoJSON.js";
import TileLayer from "ol/layer/Tile.js";
import VectorLayer from "ol/layer/Vector.js";
import Map from "ol/Map.js";
import { transformExtent } from "ol/proj.js";
import VectorSource from "ol/source/Vector.js";
import XYZ from "ol/source/XYZ.js";
import Fill from "ol/style/Fill.js";
import Stroke from "ol/style/Stroke.js";
import Style from "ol/style/Style.js";
import View from "ol/View.js";
import { defaults as defaultControls } from "ol/control/defaults.js";

import { byId, element, swatch } from "./dom.js";

const FALLBACK = [255, 140, 0];

function mercator(bounds) {
  return transformExtent(bounds, "EPSG:4326", "EPSG:3857");
}

function featureStyle(feature) {
  const colour = feature.get("color") || FALLBACK;
  return new Style({
    stroke: new Stroke({ color: `rgb(${colour.join(",")})`, width: 2 }),
    fill: new Fill({ color: `rgba(${colour.join(",")}, 0.15)` }),
  });
}

export class JobMap {
  constructor() {
    this.layers = [];
    this.map = new Map({
      target: "map",
      controls: defaultControls({ attribution: false, rotate: false }),
      view: new View({ center: [0, 0], zoom: 2, projection: "EPSG:3857" }),
    });
    this.info = byId("feature-info");
    this.map.on("pointermove", (event) => this.describe(event.pixel, event.originalEvent));
    this.map.on("click", (event) => this.describe(event.pixel, event.originalEvent));
    // every tile and feature of the view loaded and drawn: said on the map element, so a
    // script (or a test) can wait for it
    this.map.on("rendercomplete", () => {
      const target = this.map.getTargetElement();
      target.dataset.rendered = String(Number(target.dataset.rendered || 0) + 1);
      if (this.loading) target.dataset.loaded = this.loading;
    });
  }

  clear() {
    for (const entry of this.layers) this.map.removeLayer(entry.layer);
    this.layers = [];
    byId("layers").replaceChildren();
    byId("legend").replaceChildren();
    this.info.hidden = true;
    delete this.map.getTargetElement().dataset.loaded;
  }

  show(jobId, answer) {
    this.clear();
    this.loading = jobId;
    const rasters = Object.entries(answer.rasters || {});
    // imagery first (below), classes above it
    rasters.sort((a, b) => (a[1].kind === "classes") - (b[1].kind === "classes"));
    let extent = null;
    for (const [name, raster] of rasters) {
      const classes = raster.kind === "classes";
      const layerExtent = mercator(raster.bounds);
      const layer = new TileLayer({
        extent: layerExtent,
        source: new XYZ({
          url: raster.tiles,
          minZoom: raster.minzoom,
          maxZoom: raster.maxzoom,
          interpolate: !classes,
          transition: 0,
        }),
      });
      this.add(name, layer, classes ? "classes" : "imagery", raster.legend);
      extent = extent ? this.union(extent, layerExtent) : layerExtent;
    }
    for (const [name, features] of Object.entries(answer.features || {})) {
      const layer = new VectorLayer({
        source: new VectorSource({ url: features.url, format: new GeoJSON() }),
        style: featureStyle,
      });
      this.add(name, layer, "features", features.legend);
      if (features.count) {
        const layerExtent = mercator(features.bounds);
        extent = extent ? this.union(extent, layerExtent) : layerExtent;
      }
    }
    for (const [name, reason] of Object.entries(answer.skipped || {})) {
      byId("layers").append(element("div", { class: "muted small", "data-testid": "layer-skipped", text: `${name}: ${reason}` }));
    }
    if (extent) {
      this.map.getView().fit(extent, { padding: [20, 20, 20, 20] });
    }
    this.map.render();
  }

  union(a, b) {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
  }

  add(name, layer, kind, legend) {
    this.map.addLayer(layer);
    this.layers.push({ name, layer, kind });
    const toggle = element("input", { type: "checkbox", "data-testid": `layer-toggle-${name}`, checked: true });
    toggle.addEventListener("change", () => layer.setVisible(toggle.checked));
    const opacity = element("input", {
      type: "range", min: "0", max: "1", step: "0.05", value: "1",
      "data-testid": `layer-opacity-${name}`, title: "opacity",
    });
    opacity.addEventListener("input", () => layer.setOpacity(Number(opacity.value)));
    byId("layers").append(
      element("div", { class: "layer", "data-testid": "layer", "data-layer": name, "data-kind": kind },
        element("label", {}, toggle, ` ${name} `), opacity),
    );
    if (legend && legend.length) {
      byId("legend").append(
        element("div", { class: "legend-block", "data-testid": `legend-${name}` },
          element("div", { class: "legend-title", text: name }),
          ...legend.map((entry) =>
            element("div", { class: "legend-row", "data-testid": "legend-entry", "data-value": entry.value },
              swatch(entry.color), element("span", { text: `${entry.name} (${entry.value})` })),
          ),
        ),
      );
    }
  }

  describe(pixel, originalEvent) {
    const feature = this.map.forEachFeatureAtPixel(pixel, (found) => found);
    if (!feature) {
      this.info.hidden = true;
      return;
    }
    const confidence = feature.get("confidence");
    this.info.replaceChildren(
      element("div", { "data-testid": "feature-class", text: `${feature.get("className") ?? "—"} (${feature.get("classValue") ?? "—"})` }),
      element("div", { "data-testid": "feature-confidence", text: `confidence ${confidence ?? "—"}` }),
    );
    this.info.hidden = false;
    const box = this.map.getTargetElement().getBoundingClientRect();
    this.info.style.left = `${(originalEvent ? originalEvent.clientX - box.left : pixel[0]) + 12}px`;
    this.info.style.top = `${(originalEvent ? originalEvent.clientY - box.top : pixel[1]) + 12}px`;
  }
}
