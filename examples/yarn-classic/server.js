const express = require("express");

const app = express();
const port = Number(process.env.PORT || 3000);

app.get("/", (req, res) => {
  res.json({ Hello: "World" });
});

app.get("/health", (req, res) => {
  res.send("ok");
});

const server = app.listen(port, "0.0.0.0", () => {
  console.log(`listening on ${port}`);
});

// A package manager or node as PID 1 does not stop on SIGTERM by default; `docker stop` should not wait 10 s.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
