//! What the example server answers.

/// The JSON body of `GET /`.
pub fn hello(name: &str) -> String {
    format!(r#"{{"Hello":"{name}"}}"#)
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_hello() {
        assert_eq!(super::hello("World"), r#"{"Hello":"World"}"#);
    }
}
