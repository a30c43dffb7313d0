//! Command-line flags, parsed by hand: a handful of options does not warrant
//! an argument-parsing dependency in the build.

use std::{io, str::FromStr};

pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(rest: impl IntoIterator<Item = String>) -> Args {
        Args {
            rest: rest.into_iter().collect(),
        }
    }

    /// Whether `--name` was given (and takes it out).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        before != self.rest.len()
    }

    /// The value of `--name VALUE` or `--name=VALUE`.
    pub fn value(&mut self, name: &str) -> io::Result<Option<String>> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let arg = self.rest.remove(i);
            return Ok(Some(arg[prefix.len()..].to_owned()));
        }
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            return Err(usage(format!("{name} needs a value")));
        }
        self.rest.remove(i);
        Ok(Some(self.rest.remove(i)))
    }

    pub fn parsed<T: FromStr>(&mut self, name: &str) -> io::Result<Option<T>> {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| usage(format!("{name}: `{v}` is not a valid value"))),
        }
    }

    /// Fails on anything left over: a mistyped flag must not be ignored.
    pub fn finish(self) -> io::Result<()> {
        match self.rest.first() {
            None => Ok(()),
            Some(arg) => Err(usage(format!("unknown argument `{arg}`"))),
        }
    }
}

pub fn usage(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_values() {
        let mut args =
            Args::new(["--quick", "--duration", "3", "--connections=8"].map(String::from));
        assert!(args.flag("--quick"));
        assert_eq!(args.parsed::<u64>("--duration").unwrap(), Some(3));
        assert_eq!(args.parsed::<usize>("--connections").unwrap(), Some(8));
        assert_eq!(args.parsed::<u64>("--absent").unwrap(), None);
        args.finish().unwrap();
        let args = Args::new(["--durration".to_owned()]);
        assert!(args.finish().is_err());
        assert!(Args::new(["--duration".to_owned()])
            .value("--duration")
            .is_err());
    }
}
