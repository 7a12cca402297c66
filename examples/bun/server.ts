// Bun runs TypeScript as is: no build step.
import express from "express";

const app = express();
const port: number = Number(process.env.PORT ?? 3000);

app.get("/", (_req, res) => {
  res.json({ Hello: "World" });
});

app.get("/health", (_req, res) => {
  res.send("ok");
});

const server = app.listen(port, "0.0.0.0", () => {
  console.log(`listening on ${port}`);
});

// Bun as PID 1 does not stop on SIGTERM by default; `docker stop` should not wait 10 s.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
