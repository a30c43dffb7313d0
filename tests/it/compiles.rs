//! The forms of the attributes that must compile: every place users put a
//! guard, every argument shape, the route attributes above and below. Their
//! compile errors are the UI tests' (`tests/ui/`); that these compile is
//! shown here, in the binary that builds anyway, where each also registers
//! its handlers on an `App`.

mod any;
// The trailing commas in their attributes are the forms under test.
#[rustfmt::skip]
mod consumer_options;
mod extractors;
mod generic;
mod get_above;
mod get_below;
#[rustfmt::skip]
mod guards;
mod many_arguments;
mod nested_in_method;
mod post_and_route;
mod pub_handler;
mod without_claims;

#[test]
fn each_form_registers_its_handlers_on_an_app() {
    any::app();
    consumer_options::app();
    extractors::app();
    generic::app();
    get_above::app();
    get_below::app();
    guards::app();
    many_arguments::app();
    nested_in_method::app();
    post_and_route::app();
    pub_handler::app();
    without_claims::app();
}
