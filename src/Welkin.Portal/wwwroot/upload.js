// Sends the file of a form marked data-upload="<content type>" with XMLHttpRequest, so its <progress> can
// follow the upload. The form's other inputs marked data-query travel in the query string and its antiforgery
// token in the RequestVerificationToken header. Without this script the form posts as multipart.
(function () {
  'use strict';

  function text(element, value) {
    if (element) {
      element.textContent = value;
    }
  }

  function refusal(xhr) {
    try {
      var problem = JSON.parse(xhr.responseText);
      var said = problem.title || 'The upload was refused';
      if (problem.detail) {
        said += ': ' + problem.detail;
      }
      if (problem.errors) {
        Object.keys(problem.errors).forEach(function (field) {
          said += ' ' + field + ': ' + problem.errors[field].join(' ');
        });
      }
      return said;
    } catch (e) {
      return 'The upload was refused (HTTP ' + xhr.status + ').';
    }
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-upload') || !window.XMLHttpRequest) {
      return;
    }
    var input = form.querySelector('input[type=file]');
    if (!input || !input.files || input.files.length === 0) {
      return;
    }
    event.preventDefault();
    var file = input.files[0];
    var progress = form.querySelector('progress');
    var status = form.querySelector('[data-upload-status]');
    var problem = form.querySelector('[data-upload-problem]');
    var button = form.querySelector('button[type=submit]');
    var token = form.querySelector('input[name=__RequestVerificationToken]');
    var query = new URLSearchParams();
    form.querySelectorAll('[data-query]').forEach(function (field) {
      if (field.value) {
        query.set(field.name, field.value);
      }
    });
    query.set('fileName', file.name);

    if (problem) {
      problem.hidden = true;
      text(problem, '');
    }
    if (progress) {
      progress.max = 100;
      progress.value = 0;
    }
    if (button) {
      button.disabled = true;
    }
    text(status, 'Sending ' + file.name + '…');

    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('action') + '?' + query.toString());
    xhr.setRequestHeader('Content-Type', form.getAttribute('data-upload') || 'application/octet-stream');
    if (token) {
      xhr.setRequestHeader('RequestVerificationToken', token.value);
    }
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable && progress) {
        // The last percent waits for the cloud's answer.
        progress.value = Math.min(99, Math.floor(e.loaded * 100 / e.total));
        text(status, progress.value + ' % of ' + file.name + ' sent');
      }
    };
    xhr.onload = function () {
      if (button) {
        button.disabled = false;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        var done = JSON.parse(xhr.responseText);
        if (progress) {
          progress.value = 100;
        }
        text(status, '100 % — ' + done.name + ' is stored. ');
        if (status) {
          var link = document.createElement('a');
          link.href = done.location;
          link.textContent = form.getAttribute('data-upload-link') || 'Show it';
          status.appendChild(link);
        }
        form.reset();
      } else {
        text(status, '');
        if (problem) {
          text(problem, refusal(xhr));
          problem.hidden = false;
        }
      }
    };
    xhr.onerror = function () {
      if (button) {
        button.disabled = false;
      }
      text(status, '');
      if (problem) {
        text(problem, 'The upload did not reach the portal. Try again.');
        problem.hidden = false;
      }
    };
    xhr.send(file);
  }, true);
})();
