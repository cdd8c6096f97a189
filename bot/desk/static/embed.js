(function () {
  "use strict";
  // 原上管家 web chat embed: <script src="https://<desk>/embed.js" async></script>
  var me = document.currentScript;
  if (!me || window.__yschatEmbedded) { return; }
  window.__yschatEmbedded = true;
  var origin = new URL(me.src, location.href).origin;
  var label = me.getAttribute("data-label") || "在线咨询";
  var btn = document.createElement("button");
  btn.type = "button";
  btn.textContent = label;
  btn.setAttribute("aria-label", "打开原上管家在线咨询");
  var s = btn.style;
  s.position = "fixed"; s.right = "20px"; s.bottom = "20px"; s.zIndex = "2147483646";
  s.background = "#07c160"; s.color = "#fff"; s.border = "0"; s.borderRadius = "24px";
  s.padding = "12px 20px"; s.fontSize = "15px"; s.cursor = "pointer";
  s.boxShadow = "0 4px 12px rgba(0,0,0,.2)";
  var frame = null;
  btn.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/?embed=1";
      frame.title = "原上管家在线咨询";
      frame.setAttribute("allow", "clipboard-write");
      var f = frame.style;
      f.position = "fixed"; f.right = "20px"; f.bottom = "76px"; f.zIndex = "2147483647";
      f.width = "380px"; f.height = "620px"; f.maxWidth = "calc(100vw - 40px)";
      f.maxHeight = "calc(100vh - 96px)"; f.border = "0"; f.borderRadius = "12px";
      f.boxShadow = "0 8px 24px rgba(0,0,0,.25)"; f.background = "#ededed";
      document.body.appendChild(frame);
      btn.textContent = "收起";
      return;
    }
    var hidden = frame.style.display === "none";
    frame.style.display = hidden ? "block" : "none";
    btn.textContent = hidden ? "收起" : label;
  });
  document.body.appendChild(btn);
})();
