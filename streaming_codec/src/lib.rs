//! The bridge's per-message work in compiled code: Kafka messages to framed Pub/Sub messages, ready to be
//! appended to a serialized `PublishRequest`.
//!
//! Only the usual message is encoded here: a JSON object whose event id, sequence and event time (and ordering
//! key, when the stream has one) pass the stream spec's checks beyond doubt. Every other message is left to the
//! Python router (`streaming/messages.py`), which gives a dead letter its precise reason. So this code may be
//! stricter than the router, never looser: what it encodes, the router would have published unchanged.

use std::borrow::Cow;
use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Values at most this long are encoded here; longer ones (near Pub/Sub's 10 MB request limit) are sized exactly
/// by the router.
const MAX_VALUE_BYTES: usize = 10_000_000 - 64_000;
/// Pub/Sub's limit on an attribute value.
const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// Event id, sequence, event time and ordering key.
const MAX_FIELDS: usize = 4;
/// Characters of event id that fit an attribute value whatever their UTF-8 length (the router's fast test).
const SHORT_CHARS: usize = MAX_ATTRIBUTE_BYTES / 4;

// --- protobuf wire format (https://protobuf.dev/programming-guides/encoding/) ---------------------------------

/// PubsubMessage.data (1), .attributes (2, a map entry each), .ordering_key (5); PublishRequest.topic (1) and
/// .messages (2); a map entry's key (1) and value (2). All length-delimited (wire type 2).
const DATA: u8 = 0x0a;
const ATTRIBUTE: u8 = 0x12;
const ORDERING_KEY: u8 = 0x2a;
const TOPIC: u8 = 0x0a;
const MESSAGE: u8 = 0x12;
const ENTRY_KEY: u8 = 0x0a;
const ENTRY_VALUE: u8 = 0x12;

fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Bytes of a length-delimited field holding `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len) + len
}

/// Bytes of an attribute (a map entry) whose name and value hold `name` and `value` bytes.
fn attribute_len(name: usize, value: usize) -> usize {
    field_len(field_len(name) + field_len(value))
}

fn put_attribute(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(ATTRIBUTE);
    put_varint(out, field_len(name.len()) + field_len(value.len()));
    put_field(out, ENTRY_KEY, name);
    put_field(out, ENTRY_VALUE, value);
}

/// Appends `message` (one serialized PubsubMessage) to `out` as an element of PublishRequest.messages.
fn put_message(out: &mut Vec<u8>, message: &[u8]) {
    put_field(out, MESSAGE, message);
}

// --- the JSON payload ---------------------------------------------------------------------------------------

/// Skips a value, parsing it the way a strict parser does: serde's `IgnoredAny` scans numbers without reading
/// them, and so lets through a number no float can hold (`1e400`), which orjson refuses.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A top-level field's value, as far as the checks need it.
enum Value<'de> {
    Text(Cow<'de, str>),
    Unsigned(u64),
    Signed(i64),
    Other,
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::Text(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Value::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Value::Other)
    }
}

struct AnyValue;

impl<'de> DeserializeSeed<'de> for AnyValue {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Which of the wanted fields a key names, if any.
struct FieldName<'s>(&'s [&'s str]);

impl<'de> DeserializeSeed<'de> for FieldName<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName<'_> {
    type Value = Option<usize>;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == v))
    }
}

/// The wanted top-level fields of one object; None when the payload is not a JSON object or names a wanted
/// field twice (the router then decides).
struct Fields<'s>(&'s [&'s str]);

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Option<[Option<Value<'de>>; MAX_FIELDS]>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: [Option<Value<'de>>; MAX_FIELDS] = [None, None, None, None];
        let mut repeated = false;
        while let Some(name) = map.next_key_seed(FieldName(self.0))? {
            match name {
                Some(index) => {
                    let value = map.next_value_seed(AnyValue)?;
                    repeated |= found[index].replace(value).is_some();
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(if repeated { None } else { Some(found) })
    }
    // Anything else is not an object: serde's default for the other visits is an error, and so None below.
}

/// The wanted fields of a payload that is one strict JSON object; None for anything else.
fn read_fields<'de>(text: &'de str, names: &[&str]) -> Option<[Option<Value<'de>>; MAX_FIELDS]> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let found = deserializer.deserialize_any(Fields(names)).ok()?;
    deserializer.end().ok()?;
    found
}

// --- the encoder --------------------------------------------------------------------------------------------

/// A partition's `(topic, partition)` tuple, made once and shared by the runs of its messages.
struct PartitionKey {
    topic: String,
    partition: i64,
    key: Py<PyTuple>,
}

/// Checks and frames one stream's messages: plain Rust, so it runs without the GIL.
struct Framer {
    source: String,
    schema_version: String,
    /// event id, sequence, event time, then the ordering key's field when the stream has one.
    fields: Vec<String>,
    ordered: bool,
}

/// A consumed message as the framer reads it: borrowed from its Python objects, which outlive the framing.
struct Candidate<'a> {
    value: &'a [u8],
    key: Option<&'a [u8]>,
    topic: &'a str,
    partition: i64,
    offset: i64,
    timestamp_ms: i64,
}

/// Encodes the Kafka messages of one stream as framed Pub/Sub messages with the stream's attributes.
#[pyclass(module = "streaming_codec")]
struct StreamEncoder {
    framer: Framer,
    keys: Vec<PartitionKey>,
}

/// What `StreamEncoder.encode` made of a list of messages.
#[pyclass(module = "streaming_codec", frozen, get_all)]
struct Encoded {
    /// The encoded messages, each framed as an element of PublishRequest.messages, one after the other.
    frames: Py<PyBytes>,
    /// Per encoded message, where its frame ends in `frames`.
    ends: Py<PyList>,
    /// The encoded messages in runs: `((topic, partition), start, stop)` for messages `start` to `stop`
    /// (excluded) of one partition. A run ends where the partition changes, where a message was left to the
    /// router, and where an offset does not increase: each run is consecutive in Kafka.
    runs: Py<PyList>,
    /// Positions (in the list given) of the messages left to the router: errors, and anything unusual.
    others: Py<PyList>,
}

/// The run being built while the lists are made: consecutive encoded messages of one partition.
struct OpenRun<'a> {
    topic: &'a str,
    partition: i64,
    /// Index (among the encoded messages) of its first message.
    start: usize,
    last: i64,
    /// Position (in the list given) of its last message.
    position: usize,
}

impl OpenRun<'_> {
    /// Whether the message at `position` continues the run: the next in the list, same partition, a later offset.
    fn continued_by(&self, candidate: &Candidate<'_>, position: usize) -> bool {
        position == self.position + 1
            && candidate.partition == self.partition
            && candidate.offset > self.last
            && candidate.topic == self.topic
    }
}

impl StreamEncoder {
    fn partition_key(
        &mut self,
        py: Python<'_>,
        topic: &str,
        partition: i64,
    ) -> PyResult<Py<PyTuple>> {
        if let Some(found) = self
            .keys
            .iter()
            .find(|k| k.partition == partition && k.topic == topic)
        {
            return Ok(found.key.clone_ref(py));
        }
        let key: Py<PyTuple> = PyTuple::new(
            py,
            [
                topic.into_pyobject(py)?.into_any(),
                partition.into_pyobject(py)?.into_any(),
            ],
        )?
        .unbind();
        self.keys.push(PartitionKey {
            topic: topic.to_owned(),
            partition,
            key: key.clone_ref(py),
        });
        Ok(key)
    }

    /// A finished run as `((topic, partition), start, stop)`.
    fn run_tuple<'py>(
        &mut self,
        py: Python<'py>,
        run: &OpenRun<'_>,
        stop: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let key = self.partition_key(py, run.topic, run.partition)?;
        (key, run.start, stop).into_pyobject(py)
    }
}

impl Framer {
    /// The message as a framed PubsubMessage appended to `out`; false (nothing appended) when the router must
    /// decide.
    fn encode_one(&mut self, out: &mut Vec<u8>, message: &Candidate<'_>) -> bool {
        let Candidate {
            value,
            key,
            topic,
            partition,
            offset,
            timestamp_ms,
        } = *message;
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            return false;
        }
        let key = match key {
            None => None,
            Some(bytes) if bytes.len() <= MAX_ATTRIBUTE_BYTES => match std::str::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => return false,
            },
            Some(_) => return false,
        };
        let text = match std::str::from_utf8(value) {
            Ok(text) => text,
            Err(_) => return false,
        };
        let mut names = [""; MAX_FIELDS];
        for (name, field) in names.iter_mut().zip(&self.fields) {
            *name = field;
        }
        let found = match read_fields(text, &names[..self.fields.len()]) {
            Some(found) => found,
            None => return false,
        };
        let event_id = match &found[0] {
            Some(Value::Text(id)) if !id.is_empty() && id.chars().count() <= SHORT_CHARS => id,
            _ => return false,
        };
        // serde_json reads every non-negative integer as u64: a negative one is the router's to refuse.
        let sequence = match &found[1] {
            Some(Value::Unsigned(n)) => *n,
            _ => return false,
        };
        if !matches!(found[2], Some(Value::Text(_))) {
            return false;
        }
        let ordering_key: Option<Cow<'_, str>> = if self.ordered {
            match &found[3] {
                Some(Value::Text(k)) if !k.is_empty() && k.len() <= MAX_ATTRIBUTE_BYTES => {
                    Some(Cow::Borrowed(k))
                }
                Some(Value::Unsigned(n)) => {
                    Some(Cow::Owned(itoa::Buffer::new().format(*n).to_owned()))
                }
                Some(Value::Signed(n)) => {
                    Some(Cow::Owned(itoa::Buffer::new().format(*n).to_owned()))
                }
                _ => return false,
            }
        } else {
            None
        };

        let mut numbers = [(); 4].map(|_| itoa::Buffer::new());
        let [partition_text, offset_text, timestamp_text, sequence_text] = &mut numbers;
        let attributes: [Option<(&[u8], &[u8])>; 9] = [
            Some((b"source", self.source.as_bytes())),
            Some((b"schema_version", self.schema_version.as_bytes())),
            Some((b"kafka_topic", topic.as_bytes())),
            Some((
                b"kafka_partition",
                partition_text.format(partition).as_bytes(),
            )),
            Some((b"kafka_offset", offset_text.format(offset).as_bytes())),
            Some((
                b"kafka_timestamp",
                timestamp_text.format(timestamp_ms).as_bytes(),
            )),
            key.map(|key| (&b"kafka_key"[..], key.as_bytes())),
            Some((b"event_id", event_id.as_bytes())),
            Some((b"sequence", sequence_text.format(sequence).as_bytes())),
        ];
        let ordering_key = ordering_key.as_deref().map(str::as_bytes);
        // Sized first, so that the message is written once, straight after its length.
        let length = field_len(value.len())
            + attributes
                .iter()
                .flatten()
                .map(|(name, text)| attribute_len(name.len(), text.len()))
                .sum::<usize>()
            + ordering_key.map_or(0, |key| field_len(key.len()));
        out.push(MESSAGE);
        put_varint(out, length);
        put_field(out, DATA, value);
        for (name, text) in attributes.iter().flatten() {
            put_attribute(out, name, text);
        }
        if let Some(key) = ordering_key {
            put_field(out, ORDERING_KEY, key);
        }
        true
    }
}

#[pymethods]
impl StreamEncoder {
    #[new]
    #[pyo3(signature = (source, schema_version, event_id_field, sequence_field, event_time_field, ordering_key_field=None))]
    fn new(
        source: String,
        schema_version: String,
        event_id_field: String,
        sequence_field: String,
        event_time_field: String,
        ordering_key_field: Option<String>,
    ) -> Self {
        let ordered = ordering_key_field.is_some();
        let mut fields = vec![event_id_field, sequence_field, event_time_field];
        fields.extend(ordering_key_field);
        StreamEncoder {
            framer: Framer {
                source,
                schema_version,
                fields,
                ordered,
            },
            keys: Vec::new(),
        }
    }

    /// Encodes confluent-kafka messages; see `Encoded`. The checks and framing run without the GIL: the
    /// bridge's publish threads take it meanwhile to start and finish their requests, which otherwise waited for
    /// the loop's next call into C (measured: requests took 40 % longer).
    fn encode(&mut self, py: Python<'_>, messages: &Bound<'_, PyList>) -> PyResult<Encoded> {
        // 1. With the GIL: each message's parts, as Python objects kept alive until the end.
        let mut parts = Vec::with_capacity(messages.len());
        let mut kept = vec![false; messages.len()];
        for (position, message) in messages.iter().enumerate() {
            if !message.call_method0(intern!(py, "error"))?.is_none() {
                continue;
            }
            let topic = message
                .call_method0(intern!(py, "topic"))?
                .cast_into::<PyString>()?;
            let partition: i64 = message.call_method0(intern!(py, "partition"))?.extract()?;
            let offset: i64 = message.call_method0(intern!(py, "offset"))?.extract()?;
            let value = message.call_method0(intern!(py, "value"))?;
            let key = message.call_method0(intern!(py, "key"))?;
            let timestamp = message.call_method0(intern!(py, "timestamp"))?;
            let timestamp_ms: i64 = timestamp.cast::<PyTuple>()?.get_item(1)?.extract()?;
            let Ok(value) = value.cast_into::<PyBytes>() else {
                continue;
            };
            let key = if key.is_none() {
                None
            } else if let Ok(key) = key.cast_into::<PyBytes>() {
                Some(key)
            } else {
                continue;
            };
            kept[position] = true;
            parts.push((topic, value, key, partition, offset, timestamp_ms));
        }
        let mut candidates = Vec::with_capacity(parts.len());
        for (topic, value, key, partition, offset, timestamp_ms) in &parts {
            candidates.push(Candidate {
                value: value.as_bytes(),
                key: key.as_ref().map(|key| key.as_bytes()),
                topic: topic.to_str()?,
                partition: *partition,
                offset: *offset,
                timestamp_ms: *timestamp_ms,
            });
        }

        // 2. Without it: check and frame. Bytes and strings are immutable and held above, so reading them is safe.
        let framer = &mut self.framer;
        let (frames, framed_ends) = py.detach(|| {
            // A message's attributes and framing take under 400 bytes beside its value.
            let capacity = candidates.iter().map(|c| c.value.len() + 400).sum();
            let mut frames: Vec<u8> = Vec::with_capacity(capacity);
            let framed_ends: Vec<Option<usize>> = candidates
                .iter()
                .map(|candidate| {
                    framer
                        .encode_one(&mut frames, candidate)
                        .then_some(frames.len())
                })
                .collect();
            (frames, framed_ends)
        });

        // 3. With it again: the lists, in the order given.
        let ends = PyList::empty(py);
        let runs = PyList::empty(py);
        let others = PyList::empty(py);
        let mut open: Option<OpenRun<'_>> = None;
        let mut framed = candidates.iter().zip(framed_ends);
        let mut index = 0;
        for (position, kept) in kept.into_iter().enumerate() {
            let encoded = if kept { framed.next() } else { None };
            let Some((candidate, Some(end))) = encoded else {
                others.append(position)?;
                continue;
            };
            ends.append(end)?;
            match &mut open {
                Some(run) if run.continued_by(candidate, position) => {
                    run.last = candidate.offset;
                    run.position = position;
                }
                _ => {
                    if let Some(run) = open.take() {
                        runs.append(self.run_tuple(py, &run, index)?)?;
                    }
                    open = Some(OpenRun {
                        topic: candidate.topic,
                        partition: candidate.partition,
                        start: index,
                        last: candidate.offset,
                        position,
                    });
                }
            }
            index += 1;
        }
        if let Some(run) = open {
            runs.append(self.run_tuple(py, &run, index)?)?;
        }
        Ok(Encoded {
            frames: PyBytes::new(py, &frames).unbind(),
            ends: ends.unbind(),
            runs: runs.unbind(),
            others: others.unbind(),
        })
    }
}

/// One PubsubMessage framed as an element of PublishRequest.messages.
#[pyfunction]
#[pyo3(signature = (data, attributes, ordering_key=""))]
fn frame<'py>(
    py: Python<'py>,
    data: &[u8],
    attributes: &Bound<'py, PyDict>,
    ordering_key: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut message = Vec::with_capacity(data.len() + 64 * attributes.len());
    put_field(&mut message, DATA, data);
    for (name, value) in attributes.iter() {
        let name = name.cast::<PyString>()?.to_str()?;
        let value = value
            .cast::<PyString>()
            .map_err(|_| PyValueError::new_err(format!("attribute {name:?} is not a string")))?
            .to_str()?;
        put_attribute(&mut message, name.as_bytes(), value.as_bytes());
    }
    if !ordering_key.is_empty() {
        put_field(&mut message, ORDERING_KEY, ordering_key.as_bytes());
    }
    let mut out = Vec::with_capacity(message.len() + 6);
    put_message(&mut out, &message);
    Ok(PyBytes::new(py, &out))
}

/// The start of a serialized PublishRequest: its topic field. Frames are appended after it.
#[pyfunction]
fn request_head<'py>(py: Python<'py>, topic: &str) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(topic.len() + 3);
    put_field(&mut out, TOPIC, topic.as_bytes());
    PyBytes::new(py, &out)
}

#[pymodule]
fn streaming_codec(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<StreamEncoder>()?;
    module.add_class::<Encoded>()?;
    module.add_function(wrap_pyfunction!(frame, module)?)?;
    module.add_function(wrap_pyfunction!(request_head, module)?)?;
    Ok(())
}
