/*
 * personalize: the segment rule builder in the Django admin.
 *
 * Adds and removes rule rows and groups, swaps the value box when the rule
 * changes, and mirrors the condition into the JSON box so merchandisers see what
 * they build. The server rebuilds and validates the condition from the posted
 * rows; this script never decides what is saved. No inline handlers (strict CSP):
 * it is loaded through the widget's Media and binds listeners itself.
 */
(function () {
  "use strict";

  // The characters Python's re.escape() escapes, so the preview equals the server's.
  var RE_SPECIAL = /[()[\]{}?*+\-|^$\\.&~# \t\n\r\v\f]/g;
  var NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
  var INTEGER = /^\d{1,12}$/;
  var ORDER = { gt: "$gt", gte: "$gte", lt: "$lt", lte: "$lte" };

  function reEscape(text) {
    return text.replace(RE_SPECIAL, "\\$&");
  }

  function items(container) {
    return Array.prototype.filter.call(container.children, function (node) {
      return node.matches("[data-rb-item]");
    });
  }

  function ownFields(item) {
    return Array.prototype.filter.call(item.querySelectorAll("[data-field]"), function (input) {
      return input.closest("[data-rb-item]") === item;
    });
  }

  function fieldOf(item, name) {
    var found = null;
    ownFields(item).forEach(function (input) {
      if (input.dataset.field === name) {
        found = input;
      }
    });
    return found;
  }

  function text(item, name) {
    var input = fieldOf(item, name);
    return input ? String(input.value || "").trim() : "";
  }

  function scalar(raw) {
    try {
      var value = JSON.parse(raw);
      return typeof value === "number" && !isFinite(value) ? raw : value;
    } catch (error) {
      return raw;
    }
  }

  function RuleBuilder(root) {
    this.root = root;
    this.presets = JSON.parse(document.getElementById("pz-rb-presets").textContent);
    this.builder = root.querySelector("[data-rb-builder]");
    this.top = this.builder.querySelector("[data-rb-rows]");
    this.textarea = root.querySelector("textarea");
    this.details = root.querySelector("details.pz-rb-json");
    this.note = root.querySelector("[data-rb-json-note]");
    this.match = this.builder.querySelector("select[name='rb-match']");
    root.classList.add("pz-js");
    this.dropSpareRows();
    this.bind();
    this.applyEditor(this.editor());
  }

  RuleBuilder.prototype.template = function (selector) {
    var template = this.root.querySelector("template[" + selector + "]");
    return template.content.cloneNode(true);
  };

  // The server adds a blank row for browsers without this script; with it, "+ Add rule" does.
  RuleBuilder.prototype.dropSpareRows = function () {
    var rows = items(this.top);
    if (rows.length < 2) {
      return;
    }
    rows.forEach(function (row) {
      if (row.dataset.rbItem === "rule" && !text(row, "kind")) {
        row.remove();
      }
    });
    this.renumber();
  };

  RuleBuilder.prototype.bind = function () {
    var self = this;
    this.root.addEventListener("click", function (event) {
      var button = event.target.closest("[data-rb-action]");
      if (!button || !self.root.contains(button)) {
        return;
      }
      event.preventDefault();
      self.act(button.dataset.rbAction, button);
    });
    this.root.addEventListener("change", function (event) {
      var target = event.target;
      if (target.name === "condition_editor") {
        self.applyEditor(target.value);
        return;
      }
      if (target.dataset && target.dataset.field === "kind") {
        self.swapValue(target.closest("[data-rb-item]"), target.value);
      }
      self.sync();
    });
    this.root.addEventListener("input", function (event) {
      if (event.target === self.textarea) {
        if (self.editor() === "builder") {
          self.setEditor("json");
        }
        return;
      }
      self.sync();
    });
    var slug = document.getElementById("id_slug");
    if (slug) {
      slug.addEventListener("input", function () {
        self.sync();
      });
    }
  };

  RuleBuilder.prototype.act = function (action, button) {
    var group = button.closest(".pz-rb-group");
    var added = null;
    if (action === "add-rule") {
      var container = group ? group.querySelector("[data-rb-rows]") : this.top;
      added = this.template("data-rb-template='rule'");
      container.appendChild(added);
      added = items(container).pop();
    } else if (action === "add-group") {
      this.top.appendChild(this.template("data-rb-template='group'"));
      added = items(this.top).pop();
    } else if (action === "remove") {
      var item = button.closest("[data-rb-item]");
      var parent = item.parentElement;
      item.remove();
      var parentGroup = parent.closest(".pz-rb-group");
      if (parentGroup && !items(parent).length) {
        parentGroup.remove();
      }
      if (!items(this.top).length) {
        this.top.appendChild(this.template("data-rb-template='rule'"));
      }
    }
    this.renumber();
    this.sync();
    if (added) {
      var kind = added.querySelector("select[data-field='kind']");
      if (kind) {
        kind.focus();
      }
    }
  };

  RuleBuilder.prototype.swapValue = function (row, kind) {
    var cell = row.querySelector("[data-rb-value]");
    cell.textContent = "";
    if (kind) {
      cell.appendChild(this.template("data-rb-value-template='" + kind.replace(/[^a-z_]/g, "") + "'"));
    }
    this.renumber();
  };

  RuleBuilder.prototype.renumber = function () {
    items(this.top).forEach(function (item, index) {
      var prefix = "rb-" + index;
      setPrefix(item, prefix);
      if (item.dataset.rbItem === "group") {
        items(item.querySelector("[data-rb-rows]")).forEach(function (row, rowIndex) {
          setPrefix(row, prefix + "-" + rowIndex);
        });
      }
    });
  };

  function setPrefix(item, prefix) {
    ownFields(item).forEach(function (input) {
      input.name = prefix + "-" + input.dataset.field;
    });
  }

  RuleBuilder.prototype.editor = function () {
    var checked = this.root.querySelector("input[name='condition_editor']:checked");
    return checked ? checked.value : "builder";
  };

  RuleBuilder.prototype.setEditor = function (value) {
    var radio = this.root.querySelector("input[name='condition_editor'][value='" + value + "']");
    if (radio) {
      radio.checked = true;
    }
    this.applyEditor(value);
  };

  RuleBuilder.prototype.applyEditor = function (value) {
    var json = value === "json";
    this.builder.hidden = json;
    this.note.hidden = !json;
    if (json) {
      this.details.open = true;
    } else {
      this.sync();
    }
  };

  // --- the condition, built exactly as personalize.segments.rule_builder does ---------

  RuleBuilder.prototype.expected = function (row) {
    var kind = text(row, "kind");
    var meta = this.presets[kind];
    if (!meta) {
      return null;
    }
    var attribute;
    var expected;
    if (kind === "attribute") {
      attribute = text(row, "attribute");
      if (!attribute) {
        return null;
      }
      expected = genericExpected(text(row, "operator") || "eq", text(row, "value"));
    } else {
      attribute = meta.attribute;
      expected = presetExpected(meta, text(row, "value"), this.slug());
    }
    var negate = fieldOf(row, "negate");
    if (negate && negate.checked) {
      expected = { $not: expected };
    }
    var fragment = {};
    fragment[attribute] = expected;
    return fragment;
  };

  RuleBuilder.prototype.slug = function () {
    var slug = document.getElementById("id_slug");
    return (slug && slug.value.trim()) || this.root.dataset.slug || "";
  };

  function presetExpected(meta, raw, slug) {
    var value = raw;
    if (meta.param === "none") {
      value = meta.fixed;
    } else if (meta.param === "number") {
      value = NUMBER.test(raw) ? Number(raw) : raw;
    } else if (meta.param === "integer") {
      value = INTEGER.test(raw) ? parseInt(raw, 10) : raw;
    } else if (meta.param === "country") {
      value = raw.toUpperCase();
    } else if (meta.param === "group") {
      value = raw || slug;
    }
    if (meta.operator === null) {
      return value;
    }
    if (meta.operator === "$elemMatch") {
      return { $elemMatch: { $eq: value } };
    }
    if (meta.operator === "$regex") {
      return { $regex: reEscape(String(value)) };
    }
    var expected = {};
    expected[meta.operator] = value;
    return expected;
  }

  function genericExpected(operator, raw) {
    var value = scalar(raw);
    if (operator === "eq") {
      return value !== null && typeof value === "object" ? { $eq: value } : value;
    }
    if (operator === "ne") {
      return { $ne: value };
    }
    if (ORDER[operator]) {
      var expected = {};
      expected[ORDER[operator]] = value;
      return expected;
    }
    if (operator === "contains") {
      return { $regex: reEscape(raw) };
    }
    if (operator === "includes") {
      return { $elemMatch: { $eq: value } };
    }
    if (operator === "in") {
      var list = raw.charAt(0) === "[" ? scalar(raw) : null;
      if (!Array.isArray(list)) {
        list = raw
          .split(",")
          .map(function (part) {
            return part.trim();
          })
          .filter(Boolean)
          .map(scalar);
      }
      return { $in: list };
    }
    return { $exists: true };
  }

  function mergeAll(fragments) {
    var merged = {};
    for (var i = 0; i < fragments.length; i++) {
      for (var key in fragments[i]) {
        if (Object.prototype.hasOwnProperty.call(merged, key)) {
          return { $and: fragments };
        }
      }
      Object.assign(merged, fragments[i]);
    }
    return merged;
  }

  RuleBuilder.prototype.condition = function () {
    var self = this;
    var fragments = [];
    items(this.top).forEach(function (item) {
      if (item.dataset.rbItem === "rule") {
        var fragment = self.expected(item);
        if (fragment) {
          fragments.push(fragment);
        }
        return;
      }
      var rows = items(item.querySelector("[data-rb-rows]"))
        .map(function (row) {
          return self.expected(row);
        })
        .filter(Boolean);
      if (rows.length) {
        var group = {};
        group[fieldOf(item, "match").value === "any" ? "$or" : "$and"] = rows;
        fragments.push(group);
      }
    });
    if (!fragments.length) {
      return {};
    }
    if (this.match.value === "any") {
      return { $or: fragments };
    }
    return mergeAll(fragments);
  };

  RuleBuilder.prototype.sync = function () {
    if (this.editor() !== "builder") {
      return;
    }
    this.textarea.value = JSON.stringify(this.condition(), null, 2);
  };

  function start() {
    document.querySelectorAll("[data-rb-root]").forEach(function (root) {
      if (root.querySelector("[data-rb-builder]") && document.getElementById("pz-rb-presets")) {
        new RuleBuilder(root);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
