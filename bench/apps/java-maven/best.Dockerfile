# best: Docker's Java guide, "Containerize a Java application"
# (https://docs.docker.com/guides/java/containerize/, the Dockerfile `docker init` writes): a deps
# stage runs `dependency:go-offline` with pom.xml bind-mounted and ~/.m2 on a cache mount, a
# package stage copies src/ and runs `package -DskipTests` with the same mount, the jar alone on a
# JRE image as user 10001.
# Adapted to this machine: no Maven wrapper in the example, so the image's `mvn` (the guide's
# maven:3-eclipse-temurin-21 equivalent) instead of ./mvnw; the jar's name from pom.xml's finalName
# instead of the guide's two `help:evaluate` runs; no Spring Boot layertools extract (a plain shaded
# jar); the official images replaced by the local stand-ins through --build-context (as for
# Strata); Strata's path and command.
FROM maven:3-eclipse-temurin-21 AS deps
WORKDIR /build
RUN --mount=type=bind,source=pom.xml,target=pom.xml \
    --mount=type=cache,target=/root/.m2 \
    mvn -B dependency:go-offline -DskipTests

FROM deps AS package
WORKDIR /build
COPY ./src src/
RUN --mount=type=bind,source=pom.xml,target=pom.xml \
    --mount=type=cache,target=/root/.m2 \
    mvn -B package -DskipTests && \
    mv target/hello.jar target/app.jar

FROM eclipse-temurin:21-jre AS final
COPY --from=package /build/target/app.jar /app/app.jar
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
