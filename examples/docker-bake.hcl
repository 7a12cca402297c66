# Builds both examples through the Strata frontend (each spec's `# syntax=` line selects it).
# Run from the repository root:
#
#   docker buildx bake -f examples/docker-bake.hcl
#   docker buildx bake -f examples/docker-bake.hcl fastapi --set '*.platform=linux/arm64'

variable "TAG" {
  default = "dev"
}

group "default" {
  targets = ["fastapi", "express"]
}

target "fastapi" {
  context    = "examples/fastapi"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/fastapi:${TAG}"]
  labels = {
    "org.opencontainers.image.title" = "strata fastapi example"
  }
}

target "express" {
  context    = "examples/express"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/express:${TAG}"]
  labels = {
    "org.opencontainers.image.title" = "strata express example"
  }
}

# The Node package managers' examples: `docker buildx bake -f examples/docker-bake.hcl node`.
group "node" {
  targets = ["express", "pnpm", "yarn-classic", "yarn-berry", "bun"]
}

target "pnpm" {
  context    = "examples/pnpm"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/pnpm:${TAG}"]
}

target "yarn-classic" {
  context    = "examples/yarn-classic"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/yarn-classic:${TAG}"]
}

target "yarn-berry" {
  context    = "examples/yarn-berry"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/yarn-berry:${TAG}"]
}

target "bun" {
  context    = "examples/bun"
  dockerfile = "strata.toml"
  tags       = ["strata-examples/bun:${TAG}"]
}
