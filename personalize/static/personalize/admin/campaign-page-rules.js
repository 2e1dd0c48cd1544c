/*
 * personalize: the page-rules rows in the campaign admin.
 *
 * Adds and removes rows and mirrors them into the JSON box, so merchandisers see
 * what will be saved. The server rebuilds and validates the rules from the posted
 * rows; this script never decides what is saved. No inline handlers (strict CSP).
 */
(function () {
  "use strict";

  function rows(root) {
    return Array.prototype.slice.call(root.querySelectorAll("[data-pr-rows] > [data-pr-row]"));
  }

  function field(row, name) {
    return row.querySelector("[data-field='" + name + "']");
  }

  function PageRules(root) {
    this.root = root;
    this.builder = root.querySelector("[data-pr-builder]");
    this.container = root.querySelector("[data-pr-rows]");
    this.textarea = root.querySelector("textarea");
    this.note = root.querySelector("[data-pr-json-note]");
    this.details = root.querySelector("details.pz-pr-json");
    root.classList.add("pz-js");
    // The server adds blank rows for browsers without this script; here "+ Add" does.
    rows(root).forEach(function (row) {
      if (!field(row, "value").value.trim() && !row.querySelector(".pz-pr-error")) {
        row.remove();
      }
    });
    this.renumber();
    this.bind();
    this.apply(this.editor());
  }

  PageRules.prototype.editor = function () {
    var checked = this.root.querySelector("input[name='page_rules_editor']:checked");
    return checked ? checked.value : "rows";
  };

  PageRules.prototype.setEditor = function (value) {
    var radio = this.root.querySelector("input[name='page_rules_editor'][value='" + value + "']");
    if (radio) {
      radio.checked = true;
    }
    this.apply(value);
  };

  PageRules.prototype.apply = function (value) {
    var json = value === "json";
    this.builder.hidden = json;
    this.note.hidden = !json;
    if (json) {
      this.details.open = true;
    } else {
      this.sync();
    }
  };

  PageRules.prototype.renumber = function () {
    rows(this.root).forEach(function (row, index) {
      ["side", "match", "value"].forEach(function (name) {
        field(row, name).name = "pr-" + index + "-" + name;
      });
    });
  };

  PageRules.prototype.sync = function () {
    if (this.editor() !== "rows") {
      return;
    }
    var doc = {};
    rows(this.root).forEach(function (row) {
      var value = field(row, "value").value.trim();
      if (!value) {
        return;
      }
      var side = field(row, "side").value;
      (doc[side] = doc[side] || []).push({ match: field(row, "match").value, value: value });
    });
    var ordered = {};
    ["include", "exclude"].forEach(function (side) {
      if (doc[side]) {
        ordered[side] = doc[side];
      }
    });
    this.textarea.value = JSON.stringify(ordered, null, 2);
  };

  PageRules.prototype.add = function () {
    var template = this.root.querySelector("template[data-pr-template]");
    var row = template.content.firstElementChild.cloneNode(true);
    this.container.appendChild(row);
    this.renumber();
    field(row, "value").focus();
  };

  PageRules.prototype.bind = function () {
    var self = this;
    this.root.addEventListener("click", function (event) {
      var button = event.target.closest("[data-pr-action]");
      if (!button || !self.root.contains(button)) {
        return;
      }
      event.preventDefault();
      if (button.dataset.prAction === "add") {
        self.add();
      } else {
        button.closest("[data-pr-row]").remove();
        self.renumber();
      }
      self.sync();
    });
    this.root.addEventListener("change", function (event) {
      if (event.target.name === "page_rules_editor") {
        self.apply(event.target.value);
        return;
      }
      self.sync();
    });
    this.root.addEventListener("input", function (event) {
      if (event.target === self.textarea) {
        if (self.editor() === "rows") {
          self.setEditor("json");
        }
        return;
      }
      self.sync();
    });
  };

  function start() {
    document.querySelectorAll("[data-pr-root]").forEach(function (root) {
      if (root.querySelector("[data-pr-builder]")) {
        new PageRules(root);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
