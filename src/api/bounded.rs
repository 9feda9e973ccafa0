//! Whole numbers the API documents within bounds but reads at any size, so
//! that one out of range is answered with the service's own message (422,
//! beside every other problem of the request) rather than refused unread.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// A whole number documented as `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    pub fn get(self) -> i64 {
        self.0
    }

    /// The number as a count, a negative one as 0, for checks whose bounds
    /// start at 1 or more: 0 is then out of range, as the negative number was.
    pub fn non_negative(self) -> u64 {
        const { assert!(MIN >= 1, "0 would be within the bounds") };
        u64::try_from(self.0).unwrap_or(0)
    }
}

impl<const MIN: i64, const MAX: i64> Type for Bounded<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("integer({MIN} to {MAX})").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("integer", "int64");
        schema.minimum = Some(MIN as f64);
        schema.maximum = Some(MAX as f64);
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<const MIN: i64, const MAX: i64> ParseFromParameter for Bounded<MIN, MAX> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value.parse().map(Self).map_err(ParseError::custom)
    }
}

impl<const MIN: i64, const MAX: i64> ParseFromJSON for Bounded<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        match value.as_i64() {
            Some(n) => Ok(Self(n)),
            None => Err(ParseError::expected_type(value)),
        }
    }
}

impl<const MIN: i64, const MAX: i64> ToJSON for Bounded<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::{ParseFromJSON, ParseFromParameter, Type};
    use serde_json::json;

    use super::Bounded;

    type Hour = Bounded<5, 22>;

    #[test]
    fn the_bounds_are_documented_and_any_whole_number_is_read() {
        let poem_openapi::registry::MetaSchemaRef::Inline(schema) = Hour::schema_ref() else {
            panic!("an inline schema");
        };
        assert_eq!((schema.minimum, schema.maximum), (Some(5.0), Some(22.0)));
        assert_eq!(
            Hour::parse_from_json(Some(json!(-111_838_069)))
                .map(Hour::get)
                .ok(),
            Some(-111_838_069)
        );
        assert_eq!(
            Hour::parse_from_parameter("53433").map(Hour::get).ok(),
            Some(53_433)
        );
        assert_eq!(
            Hour::parse_from_parameter("-2")
                .map(Hour::non_negative)
                .ok(),
            Some(0)
        );
        assert!(Hour::parse_from_json(Some(json!("7"))).is_err());
        assert!(Hour::parse_from_json(Some(json!(7.5))).is_err());
        assert!(Hour::parse_from_parameter("99999999999999999999").is_err());
    }
}
