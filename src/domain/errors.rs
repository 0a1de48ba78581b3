use serde::ser::{Serialize, SerializeMap, Serializer};

/// Messages per input field, in the order the fields were checked (DRF's error body shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    fields: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    /// An empty set of errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// One message for one field.
    pub fn one(field: &str, message: impl ToString) -> Self {
        let mut errors = Self::new();
        errors.add(field, message.to_string());
        errors
    }

    /// Adds one message to `field`, keeping the first-seen field order.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.fields.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.fields.push((field.to_owned(), vec![message])),
        }
    }

    /// Adds several messages to `field`.
    pub fn extend(&mut self, field: &str, messages: impl IntoIterator<Item = String>) {
        for message in messages {
            self.add(field, message);
        }
    }

    /// True when no field has a message.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The messages recorded for `field`.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, messages)| messages.as_slice())
    }

    /// Iterates over `(field, messages)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields
            .iter()
            .map(|(name, messages)| (name.as_str(), messages.as_slice()))
    }

    /// `Ok(())` when empty, so callers can collect errors and bail out once.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (field, messages) in self.iter() {
            for message in messages {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{field}: {message}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (field, messages) in &self.fields {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_field_order_and_groups_messages() {
        let mut errors = FieldErrors::new();
        errors.add("username", "a");
        errors.add("password", "b");
        errors.add("username", "c");
        assert_eq!(
            serde_json::to_string(&errors).ok().as_deref(),
            Some(r#"{"username":["a","c"],"password":["b"]}"#)
        );
        assert!(errors.into_result().is_err());
        assert!(FieldErrors::new().into_result().is_ok());
    }
}
